from datetime import timedelta

from django.utils import timezone

from tests.factories import make_firm, make_user
from xpmsync import schedule, tasks
from xpmsync.models import SyncRun

from .factories import make_connection


def test_the_dispatcher_picks_exactly_the_due_firms(db, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks, "request_sync", lambda firm, **kw: queued.append((firm.name, kw)))
    now = timezone.now()

    def firm_with(name, *, last_success=None, status="active", running=False):
        firm = make_firm(name)
        make_connection(firm, make_user(firm, role="admin"), status=status)
        if last_success:
            SyncRun.objects.create(
                firm=firm, trigger="scheduled", status="succeeded", finished_at=last_success
            )
        if running:
            SyncRun.objects.create(
                firm=firm, trigger="manual", status="running",
                lease_expires_at=now + timedelta(minutes=30),
            )  # fmt: skip
        return firm

    firm_with("Never synced")
    firm_with("Synced yesterday", last_success=now - timedelta(hours=25))
    firm_with("Synced this morning", last_success=now - timedelta(hours=3))
    firm_with("Needs reconnect", status="needs_reconnect")
    firm_with("Running now", last_success=now - timedelta(days=2), running=True)
    make_firm("Not connected")

    assert tasks.dispatch_due_syncs() == 2
    assert sorted(name for name, _ in queued) == ["Never synced", "Synced yesterday"]
    assert all(kw["trigger"] == "scheduled" for _, kw in queued)
    assert all(0 <= kw["countdown"] < 3600 for _, kw in queued)


def test_firms_are_spread_over_the_hour():
    slots = {schedule.spread(firm_id) for firm_id in range(1, 200)}
    assert len(slots) > 150
    assert min(slots) >= 0 and max(slots) < 3600
