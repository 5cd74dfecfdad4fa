"""The shared budget of Xero calls: atomic in Redis across processes, corrected by Xero's
headers, and a spent budget sends the sync back to the queue instead of sleeping."""

import os
from concurrent.futures import ProcessPoolExecutor

import pytest
import redis
from django.conf import settings

from xpmsync import ratelimit, sync
from xpmsync.models import SyncRun

from .factories import make_connection
from .test_sync import serve

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis; CI sets REDIS_URL"
)
LIMITS = {"minute": 60, "day": 5000, "app_minute": 10000}


@pytest.fixture
def budget(settings):
    settings.XERO_RATE_LIMITS = dict(LIMITS)
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.delete(*connection.keys("xero-budget:*") or ["none"])
    return lambda tenant="tenant-a": ratelimit.Budget(tenant, connection)


def _spend_many(url: str, tenant: str, times: int, limits: dict) -> int:
    """In another process: try ``times`` calls; how many the budget allowed."""
    budget = ratelimit.Budget(tenant, redis.Redis.from_url(url), limits)
    allowed = 0
    for _ in range(times):
        try:
            budget.spend()
            allowed += 1
        except ratelimit.BudgetSpent:
            pass
    return allowed


def test_four_processes_racing_for_one_tenants_minute_get_exactly_sixty_calls(budget):
    budget()  # clears the windows
    with ProcessPoolExecutor(4) as pool:
        allowed = list(
            pool.map(_spend_many, [settings.REDIS_URL] * 4, ["tenant-a"] * 4, [40] * 4,
                     [LIMITS] * 4)
        )  # fmt: skip
    assert sum(allowed) == 60  # 160 tried at once: never one more than Xero's minute
    assert budget().used()["minute"] == 60


def test_the_app_wide_minute_binds_across_tenants(budget):
    budget()
    limits = {**LIMITS, "app_minute": 50}
    with ProcessPoolExecutor(4) as pool:
        tenants = [f"tenant-{n}" for n in range(4)]
        allowed = list(
            pool.map(_spend_many, [settings.REDIS_URL] * 4, tenants, [30] * 4, [limits] * 4)
        )
    assert sum(allowed) == 50 and all(n <= 30 for n in allowed)


def test_a_spent_budget_says_how_long_until_a_call_fits(budget, settings):
    settings.XERO_RATE_LIMITS = {**LIMITS, "minute": 3}
    tenant = budget()
    for _ in range(3):
        tenant.spend()
    with pytest.raises(ratelimit.BudgetSpent) as spent:
        tenant.spend()
    assert spent.value.problem == "minute" and 55 <= spent.value.wait <= 60
    assert tenant.used()["minute"] == 3  # the refused call was not counted


def test_xero_counting_more_calls_than_we_did_slows_us_down(budget):
    tenant = budget()
    tenant.spend()
    tenant.correct({"X-MinLimit-Remaining": "5", "X-DayLimit-Remaining": "4990"})
    assert tenant.used()["minute"] == 55 and tenant.used()["day"] == 10
    tenant.correct({"X-MinLimit-Remaining": "59"})  # fewer than we counted: we keep ours
    assert tenant.used()["minute"] == 55
    tenant.correct({"X-MinLimit-Remaining": "not a number"})
    assert tenant.used()["minute"] == 55


def test_a_sync_with_no_budget_left_goes_back_to_the_queue_without_calling_xero(
    budget, settings, firm_a, alice, xero
):
    settings.XERO_RATE_LIMITS = {**LIMITS, "minute": 1}
    connection = make_connection(firm_a, alice)
    budget(connection.tenant_id).spend()  # another worker took the minute's only call
    serve(xero)
    run = SyncRun.objects.create(firm=firm_a, trigger="manual")
    with pytest.raises(sync.RetryLater) as later:
        sync.run_sync(run.pk, firm_a.pk)
    assert not later.value.counts_as_attempt and 55 <= later.value.countdown <= 66
    run.refresh_from_db()
    assert run.status == "queued" and run.attempts == 0  # waiting is not a failed attempt
    assert "limit" in run.error
    assert not [c for c in xero.calls if "client.api" in c.request.url]


def test_a_spent_day_fails_the_run_rather_than_waiting_a_day(budget, settings, firm_a, alice):
    settings.XERO_RATE_LIMITS = {**LIMITS, "day": 1}
    connection = make_connection(firm_a, alice)
    budget(connection.tenant_id).spend()
    run = SyncRun.objects.create(firm=firm_a, trigger="manual")
    result = sync.run_sync(run.pk, firm_a.pk)
    assert result.status == "failed" and "daily limit" in result.error
