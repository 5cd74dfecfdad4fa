"""The dispatcher at scale: each firm at its own slot, a few queries whatever the number of firms,
no task for a firm already syncing, a spread-out catch-up, and the queue each sync takes."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_firm
from xpmsync import schedule, tasks
from xpmsync.models import SyncRun, XpmConnection

from .factories import make_connection

DAY = 86400


@pytest.fixture
def sent(monkeypatch):
    """What the dispatcher handed the broker: (firm id, kind, countdown, queue)."""
    messages = []

    def apply_async(args, countdown=None, queue=None):
        messages.append((args[0], SyncRun.objects.get(pk=args[1]).kind, countdown, queue))

    monkeypatch.setattr(tasks.sync_firm_task, "apply_async", apply_async)
    return messages


@pytest.fixture
def sent_quietly(monkeypatch):
    """The broker, for counting the dispatcher's own queries (looks nothing up)."""
    monkeypatch.setattr(tasks.sync_firm_task, "apply_async", lambda *a, **kw: None)


def firm_with(name, *, last_full=None, status="active", running=False, size=0, quick=60):
    firm = make_firm(name)
    make_connection(firm, status=status, practice_size=size, quick_sync_minutes=quick)
    if last_full:
        SyncRun.objects.create(
            firm=firm, trigger="scheduled", status="succeeded", queued_at=last_full,
            started_at=last_full, finished_at=last_full,
        )  # fmt: skip
    if running:
        SyncRun.objects.create(
            firm=firm, trigger="manual", status="running",
            lease_expires_at=timezone.now() + timedelta(minutes=30),
        )  # fmt: skip
    return firm


def test_the_dispatcher_picks_exactly_the_due_firms(db, sent):
    now = timezone.now()
    never = firm_with("Never synced")
    overdue = firm_with("Synced two days ago", last_full=now - timedelta(days=2))
    firm_with("Synced this morning", last_full=now - timedelta(hours=3), quick=0)
    firm_with("Needs reconnect", status="needs_reconnect")
    firm_with("Running now", last_full=now - timedelta(days=2), running=True)
    make_firm("Not connected")

    assert tasks.dispatch_due_syncs() == 2
    assert sorted(firm_id for firm_id, *_ in sent) == [never.pk, overdue.pk]
    assert all(kind == "full" and 0 <= countdown < 3600 for _, kind, countdown, _ in sent)
    assert not tasks.dispatch_due_syncs()  # queued already: nothing is sent twice


def test_a_firm_syncs_fully_at_its_own_slot_of_the_day(db, sent):
    firm = firm_with("Slotted")
    now = timezone.now()
    slot_today = schedule.next_slot(firm.pk, DAY, now - timedelta(days=1)) + timedelta(days=1)
    SyncRun.objects.create(
        firm=firm, trigger="scheduled", status="succeeded",
        queued_at=slot_today - timedelta(days=1), finished_at=slot_today - timedelta(days=1),
    )  # fmt: skip
    XpmConnection.objects.filter(firm=firm).update(quick_sync_minutes=0)
    before, at = slot_today - timedelta(minutes=10), slot_today - timedelta(minutes=2)
    assert schedule.due_now(before) == []
    (due,) = schedule.due_now(at)
    assert due.kind == "full" and due.countdown == 120  # timed to the slot


def test_quick_syncs_are_spread_over_the_hour_by_slot(db):
    now = timezone.now()
    firms = [firm_with(f"Firm {n}", last_full=now - timedelta(hours=2)) for n in range(60)]
    seen = {}
    for step in range(0, 3600, 300):  # one hour of dispatches
        moment = now + timedelta(seconds=step)
        for due in schedule.due_now(moment):
            seen.setdefault(due.firm_id, moment + timedelta(seconds=due.countdown))
    assert set(seen) == {f.pk for f in firms}  # every firm once an hour
    per_dispatch = Counter(int((at - now).total_seconds()) // 300 for at in seen.values())
    assert max(per_dispatch.values()) <= 12  # 60 firms over 12 windows: no window takes most


def test_after_the_workers_were_down_an_hour_the_catch_up_is_spread(db):
    now = timezone.now()
    for n in range(100):
        firm = firm_with(f"Firm {n}", last_full=now - timedelta(hours=20))
        SyncRun.objects.filter(firm=firm).update(queued_at=now - timedelta(hours=2))
    due = schedule.due_now(now)
    # Every firm missed a quick slot, and those whose daily slot passed in the last eight hours
    # missed their full sync too: not all at once, the rest at their next slot or later this hour.
    # (A quick slot is at most one dispatch interval away: a countdown of 300 s, rounded.)
    assert len([d for d in due if d.countdown < 300]) < 25
    assert all(d.kind == "full" for d in due if d.countdown > 300)


def test_a_full_sync_missed_while_the_firm_was_busy_is_caught_up(db):
    firm = firm_with("Busy at its slot", quick=0)
    now = timezone.now()
    slot = schedule.next_slot(firm.pk, DAY, now - timedelta(days=1))  # passed, within a day
    SyncRun.objects.filter(firm=firm).delete()
    SyncRun.objects.create(
        firm=firm, trigger="scheduled", status="succeeded",
        queued_at=slot - timedelta(days=1), finished_at=slot - timedelta(days=1),
    )  # fmt: skip
    (due,) = schedule.due_now(slot + timedelta(minutes=20))  # it was syncing at its slot
    assert due.kind == "full" and 0 <= due.countdown < 3300


def test_a_fully_overdue_fleet_is_spread_over_the_coming_hour(db):
    now = timezone.now()
    for n in range(100):
        firm_with(f"Firm {n}", last_full=now - timedelta(days=3))
    countdowns = sorted(d.countdown for d in schedule.due_now(now))
    assert len(countdowns) == 100
    assert countdowns[-1] - countdowns[0] > 2400  # spread over most of the hour
    assert max(Counter(c // 300 for c in countdowns).values()) < 20


def test_the_dispatcher_makes_the_same_few_queries_for_ten_firms_or_fifty(db, sent_quietly):
    def queries_for(count, offset):
        for n in range(count):
            firm_with(f"Batch {offset}-{n}", last_full=timezone.now() - timedelta(days=2))
        with CaptureQueriesContext(connection) as captured:
            tasks.dispatch_due_syncs()
        return len(captured.captured_queries)

    assert queries_for(10, 1) == queries_for(50, 2) <= 6


def test_full_syncs_of_large_or_unknown_practices_take_their_own_queue(db, sent, settings):
    settings.XPM_LARGE_PRACTICE_CLIENTS = 5000
    old = timezone.now() - timedelta(days=2)
    small = firm_with("Small", last_full=old, size=40)
    large = firm_with("Large", last_full=old, size=50000)
    unknown = firm_with("Unknown", last_full=old)
    tasks.dispatch_due_syncs()
    queues = {firm_id: queue for firm_id, _, _, queue in sent}
    assert queues == {small.pk: "sync", large.pk: "sync_large", unknown.pk: "sync_large"}
    assert tasks.queue_for("quick", 50000) == "sync"  # a quick sync reads a few clients


def test_a_sync_now_racing_the_dispatcher_is_not_queued_twice(db, sent):
    firm = firm_with("Racing", last_full=timezone.now() - timedelta(days=2))
    due = schedule.due_now()
    SyncRun.objects.create(firm=firm, trigger="manual")  # pressed just now
    runs = tasks._create_runs(due, timezone.now())
    assert runs == []
    assert SyncRun.objects.filter(firm=firm, status="queued").count() == 1


def test_firms_slots_are_spread_over_the_day():
    slots = {int(schedule.slot(firm_id, DAY)) // 3600 for firm_id in range(1, 2401)}
    assert slots == set(range(24))  # every hour of the day has firms
    per_hour = Counter(int(schedule.slot(firm_id, DAY)) // 3600 for firm_id in range(1, 2401))
    assert max(per_hour.values()) < 2 * min(per_hour.values())
