"""What the Xero Sync panel shows, on its own page and inside Manage Clients."""

from accounts.models import Firm

from . import progress, review, schedule
from .models import QUICK_SYNC_CHOICES, SyncRun, XpmConnection


def connection_of(firm: Firm) -> XpmConnection | None:
    """The firm's XPM connection, if there is one."""
    return XpmConnection.objects.for_firm(firm).select_related("connected_by").first()


def panel_context(xpm: XpmConnection) -> dict:
    """The connection, its last five runs, a held run awaiting a decision, a running run's
    progress, and when the next daily sync is due."""
    runs = list(SyncRun.objects.for_firm(xpm.firm).select_related("requested_by")[:5])
    return {
        "connection": xpm,
        "runs": runs,
        "last_run": runs[0] if runs else None,
        "held_run": review.awaiting_review(xpm.firm),
        "progress": progress.describe(runs[0].pk) if runs and runs[0].is_active else "",
        "next_sync_at": schedule.next_scheduled_sync(xpm.firm),
        "next_quick_at": schedule.next_quick_sync(xpm, runs[0] if runs else None),
        "quick_sync_choices": QUICK_SYNC_CHOICES,
    }
