"""A sync held for review: an admin applies XPM's list anyway, or keeps the clients as they are.

A held run changed nothing. Applying it queues a fresh run that downloads the list again and
skips the safety check (the admin has seen what XPM sends); keeping the clients records the
decision, and later runs go on holding while XPM's answer still looks like a wipe.
"""

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, Firm, User

from . import tasks
from .models import SyncRun


class NothingToReview(Exception):
    """No held run is waiting for a decision (another admin decided, or none was held)."""


def awaiting_review(firm: Firm) -> SyncRun | None:
    """The firm's latest full run, if it is held and nobody has decided about it yet (quick
    runs in between never hold, and must not hide it)."""
    latest = SyncRun.objects.for_firm(firm).exclude(kind=SyncRun.Kind.QUICK).first()
    return latest if latest is not None and latest.awaits_decision else None


def apply_anyway(firm: Firm, *, by: User) -> SyncRun:
    """Queue a run that applies XPM's list despite the hold; returns the new run.

    The decision is committed before the run is queued, so a worker never sees the run before
    the decision; it is taken back if the run cannot be queued.
    """
    with transaction.atomic():
        held = _lock_held(firm)
        _decide(held, SyncRun.Decision.APPLIED, by)
    try:
        run = tasks.request_sync(firm, trigger=SyncRun.Trigger.REVIEWED, user=by)
    except (tasks.SyncAlreadyRunning, tasks.NotConnected, tasks.QueueUnavailable):
        SyncRun.objects.filter(pk=held.pk).update(decision="", decided_by=None, decided_at=None)
        raise
    _record(held, by)
    return run


def keep_clients(firm: Firm, *, by: User) -> None:
    """Record that the firm keeps its clients as they are; nothing is applied."""
    with transaction.atomic():
        held = _lock_held(firm)
        _decide(held, SyncRun.Decision.KEPT, by)
        _record(held, by)


def _lock_held(firm: Firm) -> SyncRun:
    held = awaiting_review(firm)
    locked = (
        SyncRun.objects.select_for_update()
        .filter(pk=held.pk, status=SyncRun.Status.HELD, decision="")
        .first()
        if held
        else None
    )
    if locked is None:
        raise NothingToReview("There is no held sync waiting for a decision.")
    return locked


def _decide(run: SyncRun, decision: str, by: User) -> None:
    run.decision = decision
    run.decided_by = by
    run.decided_at = timezone.now()
    run.save(update_fields=["decision", "decided_by", "decided_at"])


def _record(run: SyncRun, by: User) -> None:
    audit.record(
        run.firm,
        AuditEvent.Action.XPM_SYNC_REVIEWED,
        actor=by,
        detail=f"{run.get_decision_display()}: {run.error}",
    )
