"""A run keeps what it did only while it holds the firm, on PostgreSQL with other sessions really
at work: a run whose lease ran out may be failed (tasks.recover_stale_runs) or taken over by a
later attempt of the same run (sync.run_sync) while it is still applying, and neither may end
with both runs' changes, two outcomes or two reports. Nor may a run that committed be failed
after the fact by the recovery that was waiting for its lock.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from clients.models import Change, Client
from tests.concurrency import InBackground, someone_waits_for_a_lock, wait_until
from xpmsync import run_limits, sync, tasks
from xpmsync.models import SyncRun

from .factories import make_connection
from .test_sync import SAMPLE_XML, serve, snapshot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers; CI runs these on PostgreSQL",
    ),
]

RENAMED = SAMPLE_XML.replace("Harbourline Logistics Pty Ltd", "Harbourline Freight Pty Ltd")


@pytest.fixture
def synced_once(firm_a, alice, xero):
    """Yesterday's sync of the sample; today XPM renamed a client (served as often as asked)."""
    make_connection(firm_a, alice)
    serve(xero)
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    xero.reset()
    serve(xero, RENAMED)
    return snapshot(firm_a)


@pytest.fixture
def todays_run(firm_a, synced_once):
    return SyncRun.objects.create(firm=firm_a, trigger=SyncRun.Trigger.MANUAL)


@pytest.fixture
def at_commit(monkeypatch):
    """In the sync of the test's own thread, once it has applied everything: do ``before`` just
    before it checks that it still holds the firm, ``after`` just after (its rows locked, about
    to commit)."""
    original, test_thread = run_limits.still_ours, threading.current_thread()

    def install(*, before=lambda: None, after=lambda: None) -> None:
        def still_ours(*args) -> None:
            if threading.current_thread() is not test_thread:
                return original(*args)
            before()
            original(*args)
            after()

        monkeypatch.setattr(run_limits, "still_ours", still_ours)

    return install


def _expire_lease(run: SyncRun, ago: timedelta = timedelta(seconds=1)) -> None:
    """The run's lease ran out ``ago``, committed by another session as a clock would."""
    InBackground(
        lambda: SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - ago)
    ).result()


def test_a_run_taken_over_while_it_applied_keeps_nothing_and_reports_nothing(
    firm_a, todays_run, at_commit
):
    reports, later = [], []

    def taken_over() -> None:
        _expire_lease(todays_run)
        later.append(
            InBackground(
                lambda: sync.run_sync(
                    todays_run.pk, firm_a.pk, reporter=lambda run, _: reports.append("later")
                )
            )
        )
        # The later attempt claimed the run and now waits for the rows the first one changed.
        wait_until(lambda: SyncRun.objects.filter(pk=todays_run.pk, attempts=2).exists())
        wait_until(someone_waits_for_a_lock)

    at_commit(before=taken_over)
    first = sync.run_sync(todays_run.pk, firm_a.pk, reporter=lambda run, _: reports.append("first"))
    later[0].result()

    todays_run.refresh_from_db()
    assert (todays_run.status, todays_run.attempts, todays_run.error) == ("succeeded", 2, "")
    assert reports == ["later"]  # one outcome, one report: the later attempt's
    assert first.attempts == 2  # the first read the row back as the later attempt left it
    renamed = Client.objects.get(firm=firm_a, name="Harbourline Freight Pty Ltd")
    assert Change.objects.filter(client=renamed, sync_run_id=todays_run.pk).count() == 1


def test_a_run_failed_while_it_applied_keeps_nothing_and_leaves_the_failure(
    firm_a, todays_run, synced_once, at_commit
):
    reports = []

    def failed_meanwhile() -> None:
        _expire_lease(todays_run, ago=tasks.TAKEOVER_GRACE + timedelta(seconds=1))
        assert InBackground(tasks.recover_stale_runs).result() == 1

    at_commit(before=failed_meanwhile)
    sync.run_sync(todays_run.pk, firm_a.pk, reporter=lambda run, _: reports.append(run.pk))

    todays_run.refresh_from_db()
    assert todays_run.status == "failed"
    assert todays_run.error.startswith("The sync stopped before it finished")
    assert snapshot(firm_a) == synced_once
    assert reports == []


def test_a_recovery_waiting_on_a_committing_run_does_not_fail_it(firm_a, todays_run, at_commit):
    """The run's lease ran out while it applied, but nothing took it over: it still holds the
    firm, commits, and the recovery that queued behind its lock finds nothing to fail."""
    recovery = []

    def recovery_queues_behind_the_commit() -> None:
        recovery.append(InBackground(tasks.recover_stale_runs))
        wait_until(someone_waits_for_a_lock)

    at_commit(
        before=lambda: _expire_lease(todays_run, ago=tasks.TAKEOVER_GRACE + timedelta(seconds=1)),
        after=recovery_queues_behind_the_commit,
    )
    ran = sync.run_sync(todays_run.pk, firm_a.pk, reporter=lambda run, _: None)

    assert recovery[0].result() == 0
    todays_run.refresh_from_db()
    assert (ran.status, todays_run.status, todays_run.error) == ("succeeded", "succeeded", "")
    assert Client.objects.filter(firm=firm_a, name="Harbourline Freight Pty Ltd").exists()


def test_a_run_taken_over_and_put_back_to_wait_for_xeros_budget_is_left_waiting(
    firm_a, todays_run, synced_once, at_commit
):
    """The later attempt gives its number back while it waits for the budget (a wait is not a
    failed attempt), so the row says "queued, attempt 1" again: still not the first run's."""
    reports = []

    def taken_over_then_put_back() -> None:
        waiting = {"status": "queued", "lease_expires_at": None, "error": "Waiting 30 seconds."}
        InBackground(lambda: SyncRun.objects.filter(pk=todays_run.pk).update(**waiting)).result()

    at_commit(before=taken_over_then_put_back)
    sync.run_sync(todays_run.pk, firm_a.pk, reporter=lambda run, _: reports.append(run.pk))

    todays_run.refresh_from_db()
    assert (todays_run.status, todays_run.attempts) == ("queued", 1)
    assert todays_run.error == "Waiting 30 seconds."
    assert snapshot(firm_a) == synced_once
    assert reports == []
