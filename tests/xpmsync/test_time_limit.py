"""A sync keeps its own limits: sync workers run threads, where Celery's time limits do not apply
and every sync shares the process's memory.

Past XPM_RUN_TIME_LIMIT a run stops at its next chunk downloaded or batch applied, keeps nothing
and says why; its lease is released, long before it would run out. A process applies one large
list at a time.
"""

import threading
import time
import types

import pytest

from clients.models import Client
from xpmsync import progress, run_limits

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
    monkeypatch.setattr(run_limits, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
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


def test_a_process_applies_one_large_list_at_a_time(settings):
    settings.XPM_LARGE_PRACTICE_CLIENTS = 5000
    settings.XPM_RUN_TIME_LIMIT = 1500
    applying = threading.Event()
    release = threading.Event()

    def first() -> None:
        with run_limits.room_to_apply(40_000, run_limits.deadline()):
            applying.set()
            release.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    try:
        assert applying.wait(10)
        # A second large list waits its turn; one that cannot get it in its time stops.
        with (
            pytest.raises(run_limits.OutOfTime),
            run_limits.room_to_apply(6000, time.monotonic() + 0.2),
        ):
            pass
        # A list of a small practice never waits.
        with run_limits.room_to_apply(5000, time.monotonic()):
            pass
    finally:
        release.set()
        holder.join(10)
    with run_limits.room_to_apply(6000, time.monotonic() + 5):  # free again
        pass
