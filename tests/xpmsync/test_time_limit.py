"""A sync keeps its own time limit: sync workers run threads, where Celery's limits do not apply.

Past XPM_RUN_TIME_LIMIT a run stops at its next chunk downloaded or batch applied, keeps nothing
and says why; its lease is released, long before it would run out.
"""

import time
import types

import pytest

from clients.models import Client
from xpmsync import progress, sync

from .factories import make_connection
from .test_sync import SAMPLE_XML, run, serve, snapshot

RENAMED = SAMPLE_XML.replace("Harbourline Logistics Pty Ltd", "Harbourline Freight Pty Ltd")


@pytest.mark.parametrize("slow_phase", ["downloading", "applying"])
def test_a_sync_past_its_time_limit_stops_and_changes_nothing(
    firm_a, alice, xero, settings, monkeypatch, slow_phase
):
    make_connection(firm_a, alice)
    serve(xero)
    run(firm_a, alice)
    before = snapshot(firm_a)
    settings.XPM_RUN_TIME_LIMIT = 1500
    serve(xero, RENAMED)
    # The clock the run reads jumps past its limit while it downloads (the first chunk took 25
    # minutes) or once it has begun applying (the writes made so far are rolled back).
    clock = [1000.0]
    monkeypatch.setattr(
        sync, "time", types.SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep)
    )
    report = getattr(progress, slow_phase)

    def slow(run_id, *figures):
        clock[0] += 1501
        report(run_id, *figures)

    monkeypatch.setattr(progress, slow_phase, slow)

    stopped = run(firm_a, alice)

    assert stopped.status == "failed"
    assert stopped.error == "The sync took longer than 25 minutes and was stopped. Nothing changed."
    assert stopped.lease_expires_at is None
    assert snapshot(firm_a) == before
    assert not Client.objects.filter(name="Harbourline Freight Pty Ltd").exists()


def test_a_sync_within_its_time_limit_is_not_stopped(firm_a, alice, xero, settings):
    make_connection(firm_a, alice)
    settings.XPM_RUN_TIME_LIMIT = 1500
    serve(xero, RENAMED)

    assert run(firm_a, alice).status == "succeeded"
    assert Client.objects.filter(name="Harbourline Freight Pty Ltd").exists()
