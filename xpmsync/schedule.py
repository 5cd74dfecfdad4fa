"""When each firm syncs: a daily full sync and quick syncs between, each at the firm's own slot.

Every firm has a fixed slot in the day for its full sync and one in each quick-sync interval,
drawn from its id, so a thousand firms' syncs are spread evenly over the day and the hour instead
of all starting together. The dispatcher (every few minutes) queues the firms whose slot falls
within its reach, timed to the slot. A firm that missed its slot by more than that (the workers
were down, or it was still syncing) is not queued at once with all the others: a quick sync
waits for its next slot, at most an interval; a missed full sync, or one overdue by a day, gets
the firm's own point of the coming hour. One query reads
every firm's state, whatever their number.

``XPM_SCHEDULE_COMPRESSION`` (1 in every real deployment) shrinks the day and the intervals, for
the fleet simulation's compressed day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, FilteredRelation, Max, OuterRef, Q
from django.utils import timezone

from accounts.models import Firm

from .models import SyncRun, XpmConnection

# A held run counts like a success for the schedule: the next try is tomorrow's, not the next
# hour's, and it holds again while XPM's answer still looks like a wipe.
COMPLETED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.HELD)

# Real seconds, before compression.
DAY = 86400
DISPATCH_EVERY = 300  # Celery beat runs the dispatcher this often
# A full sync is not run again within this of the last one (the first slot after it waits).
FULL_AT_LEAST_AFTER = 12 * 3600
# Past this since the last completed full sync, it is overdue: queued in the coming hour.
FULL_OVERDUE_AFTER = DAY + 3600
CATCH_UP_SECONDS = 3300
# A full sync that failed is tried again after this, not at every dispatch.
RETRY_FAILED_FULL_AFTER = 3600
_SPREAD = 2654435761  # Knuth's multiplicative hash: consecutive ids land far apart


def seconds(real: float) -> float:
    """``real`` seconds of the schedule, as compressed for a simulation (else unchanged)."""
    return real / settings.XPM_SCHEDULE_COMPRESSION


def slot(firm_id: int, period: float) -> float:
    """The firm's own offset within a period of ``period`` seconds."""
    return (firm_id * _SPREAD) % 2**32 / 2**32 * period


@dataclass(frozen=True)
class Due:
    firm_id: int
    kind: str
    countdown: int
    practice_size: int

    @property
    def quick(self) -> bool:
        return self.kind == SyncRun.Kind.QUICK


def due_now(now: datetime | None = None) -> list[Due]:
    """Every firm to queue at this dispatch, with how long until its slot. One query."""
    now = now or timezone.now()
    due = []
    for state in _firm_states(now):
        full = _full_countdown(state, now)
        if full is not None:
            due.append(Due(state["firm_id"], SyncRun.Kind.FULL, full, state["practice_size"]))
            continue
        quick = _quick_countdown(state, now)
        if quick is not None:
            due.append(Due(state["firm_id"], SyncRun.Kind.QUICK, quick, state["practice_size"]))
    return due


def _firm_states(now: datetime):
    """Each connected, idle firm's last full sync, last failed one and last run, from the runs
    of the last two days alone (older ones decide nothing: a firm whose last full sync is that
    old is overdue anyway), so the work stays flat as the history grows."""
    horizon = now - timedelta(seconds=seconds(2 * DAY))
    busy = SyncRun.objects.filter(firm=OuterRef("firm"), status__in=SyncRun.ACTIVE_STATUSES)
    recent = FilteredRelation(
        "firm__sync_runs", condition=Q(firm__sync_runs__queued_at__gte=horizon)
    )
    full = Q(recent__kind=SyncRun.Kind.FULL)
    return (
        XpmConnection.objects.filter(status__in=XpmConnection.SYNCABLE_STATUSES)
        .annotate(recent=recent)
        .annotate(
            last_full=Max("recent__finished_at", filter=full & Q(recent__status__in=COMPLETED)),
            last_failed=Max(
                "recent__finished_at", filter=full & Q(recent__status=SyncRun.Status.FAILED)
            ),
            last_queued=Max("recent__queued_at"),
        )
        .exclude(Exists(busy))
        .order_by("firm_id")
        .values("firm_id", "quick_sync_minutes", "practice_size", "last_full", "last_failed",
                "last_queued")
    )  # fmt: skip


def _full_countdown(state: dict, now: datetime) -> int | None:
    last, failed = state["last_full"], state["last_failed"]
    failed_since = failed and (last is None or failed > last)
    if failed_since and _age(failed, now) < seconds(RETRY_FAILED_FULL_AFTER):
        return None
    if last is None or _age(last, now) >= seconds(FULL_OVERDUE_AFTER):
        return int(slot(state["firm_id"], seconds(CATCH_UP_SECONDS)))
    # Today's slot, or one missed while the firm was busy or the workers were down: a missed one
    # is caught up within the coming hour, at the firm's own point of it.
    at = _latest_slot(state["firm_id"], seconds(DAY), now)
    if (at - last).total_seconds() < seconds(FULL_AT_LEAST_AFTER):
        return None
    if at <= now - timedelta(seconds=seconds(DISPATCH_EVERY)):
        return int(slot(state["firm_id"], seconds(CATCH_UP_SECONDS)))
    return _countdown(at, now)


def _quick_countdown(state: dict, now: datetime) -> int | None:
    if not state["quick_sync_minutes"] or state["last_queued"] is None:
        return None
    interval = seconds(state["quick_sync_minutes"] * 60)
    at = _slot_in_reach(state["firm_id"], interval, now)
    if at is None or (at - state["last_queued"]).total_seconds() < interval / 2:
        return None
    return _countdown(at, now)


def _latest_slot(firm_id: int, period: float, now: datetime) -> datetime:
    """The firm's latest slot before the next dispatch."""
    stamp = now.timestamp() + seconds(DISPATCH_EVERY)
    return datetime.fromtimestamp(stamp - (stamp - slot(firm_id, period)) % period, tz=now.tzinfo)


def _slot_in_reach(firm_id: int, period: float, now: datetime) -> datetime | None:
    """The firm's slot in this dispatch's reach: from one dispatch interval ago (a dispatch that
    ran late still catches it) until the next dispatch."""
    latest = _latest_slot(firm_id, period, now)
    if latest <= now - timedelta(seconds=seconds(DISPATCH_EVERY)):
        return None
    return latest


def _countdown(at: datetime, now: datetime) -> int:
    return max(0, round((at - now).total_seconds()))


def _age(moment: datetime, now: datetime) -> float:
    return (now - moment).total_seconds()


# --- For tests and pages ------------------------------------------------------------------------


def due_firms():
    """Firms due their full sync at this dispatch (or overdue)."""
    return Firm.objects.filter(pk__in=[d.firm_id for d in due_now() if not d.quick]).order_by("pk")


def quick_due_firms() -> list[Firm]:
    """Firms due a quick sync at this dispatch."""
    ids = [d.firm_id for d in due_now() if d.quick]
    return list(Firm.objects.filter(pk__in=ids).order_by("pk"))


def next_scheduled_sync(firm: Firm) -> datetime:
    """When the daily full sync will next run for ``firm``."""
    last = (
        SyncRun.objects.for_firm(firm)
        .filter(status__in=COMPLETED, kind=SyncRun.Kind.FULL)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    now = timezone.now()
    if last is None or _age(last, now) >= seconds(FULL_OVERDUE_AFTER):
        return now + timedelta(seconds=slot(firm.pk, seconds(CATCH_UP_SECONDS)))
    earliest = last + timedelta(seconds=seconds(FULL_AT_LEAST_AFTER))
    return next_slot(firm.pk, seconds(DAY), max(now, earliest))


def next_quick_sync(connection: XpmConnection, last_run: SyncRun | None) -> datetime | None:
    """When the next quick sync is due (None when they are off)."""
    if not connection.quick_sync_minutes:
        return None
    interval = seconds(connection.quick_sync_minutes * 60)
    after = timezone.now()
    if last_run is not None:
        after = max(after, last_run.queued_at + timedelta(seconds=interval / 2))
    return next_slot(connection.firm_id, interval, after)


def next_slot(firm_id: int, period: float, after: datetime) -> datetime:
    stamp = after.timestamp()
    wait = (slot(firm_id, period) - stamp) % period
    return datetime.fromtimestamp(stamp + wait, tz=after.tzinfo)
