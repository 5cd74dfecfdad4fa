"""A sync keeps its own limits: sync workers run threads, where Celery's time limits do not apply
and every sync shares the process's memory.

Past XPM_RUN_TIME_LIMIT a run stops at its next chunk downloaded, before its next batch or before
it commits, keeps nothing and says why; a stalled read still ends inside its lease. A process
applies one large list at a time. (A run that lost its claim on the firm: test_fencing.py.)
"""

import threading
import time
import types
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings as project_settings

from clients.models import Client
from xpmsync import api, progress, run_limits, sync

from .factories import make_connection
from .test_sync import SAMPLE_XML, run, serve, snapshot

RENAMED = SAMPLE_XML.replace("Harbourline Logistics Pty Ltd", "Harbourline Freight Pty Ltd")
OUT_OF_TIME = "The sync took longer than 25 minutes and was stopped. Nothing changed."


@pytest.fixture
def synced_once(firm_a, alice, xero, settings):
    """Yesterday's sync of the sample; today XPM renamed a client."""
    make_connection(firm_a, alice)
    serve(xero)
    run(firm_a, alice)
    settings.XPM_RUN_TIME_LIMIT = 1500
    serve(xero, RENAMED)
    return snapshot(firm_a)


@pytest.fixture
def clock(monkeypatch):
    """The clock the run's limits read, moved by the test."""
    now = [1000.0]
    fake = types.SimpleNamespace(monotonic=lambda: now[0])
    monkeypatch.setattr(run_limits, "time", fake)
    return now


def _on_call(monkeypatch, name: str, call: int, action) -> list:
    """Do ``action`` when progress.``name`` is called the ``call``-th time; returns the calls."""
    report, calls = getattr(progress, name), []

    def counted(run_id, *figures):
        calls.append(figures)
        if len(calls) == call:
            action()
        report(run_id, *figures)

    monkeypatch.setattr(progress, name, counted)
    return calls


def test_a_download_past_the_time_limit_stops_before_applying(
    firm_a, alice, synced_once, clock, monkeypatch
):
    monkeypatch.setattr(api, "DOWNLOAD_CHUNK", 1024)  # the sample arrives in many chunks

    def late() -> None:
        clock[0] += 1501  # the second chunk came 25 minutes after the run began

    _on_call(monkeypatch, "downloading", 2, late)
    applying = _on_call(monkeypatch, "applying", 99, lambda: None)

    stopped = run(firm_a, alice)

    assert (stopped.status, stopped.error) == ("failed", OUT_OF_TIME)
    assert stopped.lease_expires_at is None
    assert applying == []  # it never began applying
    assert snapshot(firm_a) == synced_once


def test_applying_past_the_time_limit_rolls_back_what_was_applied(
    firm_a, alice, synced_once, clock, monkeypatch
):
    def late() -> None:
        clock[0] += 1501  # the first batch took 25 minutes

    # progress.applying hears 0 before applying, then the count after each batch.
    applying = _on_call(monkeypatch, "applying", 2, late)

    stopped = run(firm_a, alice)

    assert (stopped.status, stopped.error) == ("failed", OUT_OF_TIME)
    assert len(applying) == 2  # the batch was applied, then not committed
    assert snapshot(firm_a) == synced_once
    assert not Client.objects.filter(name="Harbourline Freight Pty Ltd").exists()


def test_a_sync_within_its_time_limit_is_not_stopped(firm_a, alice, synced_once):
    assert run(firm_a, alice).status == "succeeded"
    assert Client.objects.filter(name="Harbourline Freight Pty Ltd").exists()


def test_the_longest_run_ends_inside_its_lease():
    """Its time limit, then one stalled read of the list at the most, then a minute to finish."""
    longest = project_settings.XPM_RUN_TIME_LIMIT + project_settings.XPM_LIST_TIMEOUT[1] + 60
    assert timedelta(seconds=longest) < sync.LEASE


@contextmanager
def another_large_apply():
    """Another thread of this process applying a large list, until the block ends."""
    applying, release = threading.Event(), threading.Event()

    def apply() -> None:
        with run_limits.room_to_apply(40_000, time.monotonic() + 30):
            applying.set()
            release.wait(10)

    holder = threading.Thread(target=apply)
    holder.start()
    try:
        assert applying.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)


def test_a_process_applies_one_large_list_at_a_time(settings):
    settings.XPM_LARGE_PRACTICE_CLIENTS = 5000
    with another_large_apply():
        # A second large list waits its turn; one that cannot get it in its time stops.
        with (
            pytest.raises(run_limits.OutOfTime),
            run_limits.room_to_apply(6000, time.monotonic() + 0.2),
        ):
            pass
        # A list of a small practice never waits.
        with run_limits.room_to_apply(5000, time.monotonic()):
            pass
    with run_limits.room_to_apply(6000, time.monotonic() + 5):  # free again
        pass


def test_a_sync_of_a_large_practice_waits_for_another_large_apply(
    firm_a, alice, synced_once, settings, monkeypatch
):
    settings.XPM_LARGE_PRACTICE_CLIENTS = 2  # the sample's practice counts as large
    monkeypatch.setattr(run_limits, "deadline", lambda: time.monotonic() + 0.5)
    with another_large_apply():
        stopped = run(firm_a, alice)  # waits its turn until its time is up

    assert (stopped.status, stopped.error) == ("failed", OUT_OF_TIME)
    assert snapshot(firm_a) == synced_once
    assert run(firm_a, alice).status == "succeeded"  # its turn, once the other is done
