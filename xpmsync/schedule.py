"""The daily sync: which firms are due, spread over the hour instead of all at once."""

from datetime import timedelta

from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import Firm

from .models import SyncRun, XpmConnection

SYNC_EVERY = timedelta(days=1)
# Firms are spread over this many seconds after the dispatcher runs (beat runs it hourly).
SPREAD_SECONDS = 3300


# A held run counts like a success for the schedule: the next try is tomorrow's, not the next
# hour's, and it holds again while XPM's answer still looks like a wipe.
COMPLETED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.HELD)


def due_firms():
    """Connected firms whose last completed sync is a day old (or that never synced)."""
    cutoff = timezone.now() - SYNC_EVERY + timedelta(minutes=30)
    return (
        Firm.objects.filter(xpm_connection__status__in=XpmConnection.SYNCABLE_STATUSES)
        .annotate(
            last_success=Max("sync_runs__finished_at", filter=Q(sync_runs__status__in=COMPLETED))
        )
        .filter(Q(last_success__isnull=True) | Q(last_success__lt=cutoff))
        .exclude(sync_runs__status__in=SyncRun.ACTIVE_STATUSES)
        .order_by("pk")
    )


def spread(firm_id: int) -> int:
    """A stable delay for this firm within the hour, so firms do not all sync at :00."""
    return (firm_id * 2654435761) % SPREAD_SECONDS


def next_scheduled_sync(firm: Firm):
    """When the daily sync will next run for ``firm`` (roughly: the hour and the firm's slot)."""
    last = (
        SyncRun.objects.for_firm(firm)
        .filter(status__in=COMPLETED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    now = timezone.now()
    due = max(now, last + SYNC_EVERY - timedelta(minutes=30)) if last else now
    next_hour = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return next_hour + timedelta(seconds=spread(firm.pk))
