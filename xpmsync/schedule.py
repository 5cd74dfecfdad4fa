"""Which firms are due a sync: the nightly full one, spread over the hour, and the quick ones
between, each firm at its own interval, spread over the dispatcher's few minutes."""

from datetime import timedelta

from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import Firm

from .models import SyncRun, XpmConnection

SYNC_EVERY = timedelta(days=1)
# Full syncs are spread over this many seconds after the dispatcher queues them.
SPREAD_SECONDS = 3300
# Quick syncs are spread over the dispatcher's interval (beat runs it every five minutes).
QUICK_SPREAD_SECONDS = 240


# A held run counts like a success for the schedule: the next try is tomorrow's, not the next
# hour's, and it holds again while XPM's answer still looks like a wipe.
COMPLETED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.HELD)


FULL_COMPLETED = Q(sync_runs__status__in=COMPLETED, sync_runs__kind=SyncRun.Kind.FULL)
# A full sync that failed is tried again after this, not at every dispatch.
RETRY_FAILED_FULL_AFTER = timedelta(hours=1)
FULL_FAILED = Q(sync_runs__status=SyncRun.Status.FAILED, sync_runs__kind=SyncRun.Kind.FULL)


def due_firms():
    """Connected firms whose last completed full sync is a day old (or that never synced)."""
    cutoff = timezone.now() - SYNC_EVERY + timedelta(minutes=30)
    return (
        Firm.objects.filter(xpm_connection__status__in=XpmConnection.SYNCABLE_STATUSES)
        .annotate(
            last_success=Max("sync_runs__finished_at", filter=FULL_COMPLETED),
            last_failure=Max("sync_runs__finished_at", filter=FULL_FAILED),
        )
        .filter(Q(last_success__isnull=True) | Q(last_success__lt=cutoff))
        .filter(
            Q(last_failure__isnull=True)
            | Q(last_failure__lt=timezone.now() - RETRY_FAILED_FULL_AFTER)
        )
        .exclude(sync_runs__status__in=SyncRun.ACTIVE_STATUSES)
        .order_by("pk")
    )


def quick_due_firms() -> list[Firm]:
    """Connected firms with quick syncs on whose last run was queued an interval ago or more.

    One query, whatever the number of firms; the interval is each firm's own.
    """
    now = timezone.now()
    firms = (
        Firm.objects.filter(
            xpm_connection__status__in=XpmConnection.SYNCABLE_STATUSES,
            xpm_connection__quick_sync_minutes__gt=0,
        )
        .annotate(last_queued=Max("sync_runs__queued_at"))
        .exclude(sync_runs__status__in=SyncRun.ACTIVE_STATUSES)
        .filter(last_queued__isnull=False)
        .annotate(minutes=Max("xpm_connection__quick_sync_minutes"))
        .order_by("pk")
    )
    return [f for f in firms if f.last_queued <= now - timedelta(minutes=f.minutes)]


def spread(firm_id: int, *, quick: bool = False) -> int:
    """A stable delay for this firm, so firms do not all sync at once: within the hour for a
    full sync, within the dispatcher's interval for a quick one."""
    return (firm_id * 2654435761) % (QUICK_SPREAD_SECONDS if quick else SPREAD_SECONDS)


def next_scheduled_sync(firm: Firm):
    """When the daily sync will next run for ``firm`` (roughly: the hour and the firm's slot)."""
    last = (
        SyncRun.objects.for_firm(firm)
        .filter(status__in=COMPLETED, kind=SyncRun.Kind.FULL)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    now = timezone.now()
    due = max(now, last + SYNC_EVERY - timedelta(minutes=30)) if last else now
    next_hour = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return next_hour + timedelta(seconds=spread(firm.pk))


def next_quick_sync(connection: XpmConnection, last_run: SyncRun | None):
    """When the next quick sync is due after the firm's latest run (None when they are off)."""
    if not connection.quick_sync_minutes:
        return None
    last = last_run.queued_at if last_run else None
    interval = timedelta(minutes=connection.quick_sync_minutes)
    return max(timezone.now(), last + interval) if last else timezone.now()
