"""Queueing syncs and the Celery tasks that run them: thin wrappers that take ids and re-load.

``request_sync`` queues a run unless the firm already has one queued or running (a partial
unique index is the lock; a run whose worker died is recovered once its lease runs out). The
hourly dispatcher queues each connected firm's daily sync when it is due.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import Firm, User

from . import schedule, sync
from .models import SyncRun, XpmConnection
from .sync import NotConnected

logger = logging.getLogger(__name__)

# A queued run whose task never started (the broker lost it) is given up after this.
QUEUE_TIMEOUT = timedelta(hours=2)

__all__ = ["NotConnected", "QueueUnavailable", "SyncAlreadyRunning", "request_sync"]


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun | None) -> None:
        super().__init__("A sync is already queued or running for this firm.")
        self.run = run


class QueueUnavailable(Exception):
    """The task queue could not be reached, so the sync was not started."""


@shared_task(bind=True, acks_late=True, max_retries=sync.MAX_ATTEMPTS)
def sync_firm_task(self, firm_id: int, run_id: int) -> None:
    """Run one queued sync. Redelivered or duplicated messages find the run claimed and stop."""
    try:
        sync.run_sync(run_id, firm_id)
    except sync.RetryLater as later:
        if self.request.is_eager:
            sync.wait_in_process(later.countdown)
        raise self.retry(countdown=later.countdown, exc=later) from later


@shared_task(acks_late=True)
def dispatch_due_syncs() -> int:
    """Every few minutes (Celery beat): queue each connected firm's daily full sync when it is
    due, spread over the hour, and its quick syncs in between, spread over the few minutes."""
    recover_stale_runs()
    queued = 0
    due = [(firm, SyncRun.Kind.FULL) for firm in schedule.due_firms()]
    full = {firm.pk for firm, _kind in due}
    due += [(f, SyncRun.Kind.QUICK) for f in schedule.quick_due_firms() if f.pk not in full]
    for firm, kind in due:
        quick = kind == SyncRun.Kind.QUICK
        try:
            request_sync(
                firm,
                trigger=SyncRun.Trigger.QUICK if quick else SyncRun.Trigger.SCHEDULED,
                countdown=schedule.spread(firm.pk, quick=quick),
                kind=kind,
            )
        except (SyncAlreadyRunning, NotConnected):
            continue
        except QueueUnavailable:
            logger.warning("Task queue unavailable; stopping the dispatch after %s firms", queued)
            break
        queued += 1
    return queued


def request_sync(
    firm: Firm,
    *,
    trigger: str,
    user: User | None = None,
    countdown: int | None = None,
    kind: str = SyncRun.Kind.FULL,
) -> SyncRun:
    """Queue a sync of ``firm`` (full, or quick: what XPM modified since the last good run);
    raises SyncAlreadyRunning while one is queued or running, the lock that keeps a quick run
    and a full one from ever overlapping."""
    recover_stale_runs(firm)
    syncable = XpmConnection.objects.for_firm(firm).filter(
        status__in=XpmConnection.SYNCABLE_STATUSES
    )
    if not syncable.exists():
        raise NotConnected("The firm is not connected to Xero Practice Manager.")
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                firm=firm,
                trigger=trigger,
                requested_by=user,
                kind=kind,
                skip_safety_check=trigger == SyncRun.Trigger.REVIEWED,
            )
    except IntegrityError:
        raise SyncAlreadyRunning(SyncRun.objects.for_firm(firm).active().first()) from None
    _enqueue(run, countdown)
    return run


def _enqueue(run: SyncRun, countdown: int | None) -> None:
    try:
        sync_firm_task.apply_async((run.firm_id, run.pk), countdown=countdown)
    except Exception as error:
        if not _is_broker_error(error):
            raise
        logger.warning("Could not queue sync run %s: %s", run.pk, error)
        sync.finish(run, SyncRun.Status.FAILED, error="The task queue could not be reached.")
        raise QueueUnavailable(
            "The sync could not be started because the task queue is unavailable. Nothing was "
            "changed; try again in a few minutes."
        ) from error


def _is_broker_error(error: Exception) -> bool:
    return isinstance(error, OperationalError | ConnectionError | OSError)


def recover_stale_runs(firm: Firm | None = None) -> int:
    """Fail runs whose worker died (lease over) or whose task never started."""
    now = timezone.now()
    stale = SyncRun.objects.filter(
        Q(status=SyncRun.Status.RUNNING, lease_expires_at__lt=now)
        | Q(status=SyncRun.Status.QUEUED, queued_at__lt=now - QUEUE_TIMEOUT)
    )
    if firm is not None:
        stale = stale.filter(firm=firm)
    return stale.update(
        status=SyncRun.Status.FAILED,
        finished_at=now,
        error="The sync stopped before it finished (its worker was interrupted). Nothing it "
        "started was kept; the next sync starts afresh.",
    )
