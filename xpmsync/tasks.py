"""Queueing syncs and the Celery tasks that run them: thin wrappers that take ids and re-load.

``request_sync`` queues a run unless the firm already has one queued or running (a partial
unique index is the lock; a run whose worker died is recovered once its lease runs out). The
dispatcher queues every firm due at its slot (``schedule``) with a bounded number of queries,
however many firms there are. Syncs go to the "sync" queue, full syncs of large practices (or of
one whose size is not known yet) to "sync_large"; the report of a finished run (its duplicates
check and email) goes to the light "default" queue, so it never holds up the next sync.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
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
# A running run whose lease ran out is failed this long after: first its task, redelivered at
# once when a prefork worker's process died, gets the chance to take it over (it wakes just
# after the lease ends). A threads worker's tasks come back after the visibility timeout, when
# the run has been failed already and the next sync starts afresh.
TAKEOVER_GRACE = timedelta(minutes=2)
SYNC_QUEUE = "sync"
LARGE_SYNC_QUEUE = "sync_large"

__all__ = ["NotConnected", "QueueUnavailable", "SyncAlreadyRunning", "request_sync"]


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun | None) -> None:
        super().__init__("A sync is already queued or running for this firm.")
        self.run = run


class QueueUnavailable(Exception):
    """The task queue could not be reached, so the sync was not started."""


@shared_task(bind=True, acks_late=True, max_retries=sync.MAX_ATTEMPTS)
def sync_firm_task(self, firm_id: int, run_id: int) -> None:
    """Run one queued sync. Redelivered or duplicated messages find the run claimed and stop,
    or wait for the worker holding it; its report is queued on the light queue."""
    try:
        sync.run_sync(run_id, firm_id, reporter=_queue_report)
    except sync.RetryLater as later:
        if self.request.is_eager:
            sync.wait_in_process(later.countdown)
        # Waiting for the budget or a lease is not a failure: it does not use up the retries.
        retries = self.max_retries if later.counts_as_attempt else None
        raise self.retry(countdown=later.countdown, exc=later, max_retries=retries) from later


@shared_task(acks_late=True)
def report_run_task(run_id: int, routine: bool) -> None:
    """Check the clients a finished run changed and email its summary (the light queue)."""
    run = SyncRun.objects.select_related("firm", "requested_by").filter(pk=run_id).first()
    if run is not None:
        sync.report(run, routine)


def _queue_report(run: SyncRun, routine: bool) -> None:
    try:
        report_run_task.delay(run.pk, routine)
    except Exception as error:
        if not _is_broker_error(error):
            raise
        logger.warning("Could not queue the report of run %s; reporting it here", run.pk)
        sync.report(run, routine)


@shared_task(acks_late=True)
def dispatch_due_syncs() -> int:
    """Every few minutes (Celery beat): queue each firm due its daily full sync or a quick one,
    timed to its slot. A few queries in all, and none for a firm already syncing."""
    recover_stale_runs()
    now = timezone.now()
    due = schedule.due_now(now)
    runs = _create_runs(due, now)
    for queued, (plan, run) in enumerate(runs):
        try:
            _send(run, plan.countdown, queue_for(plan.kind, plan.practice_size))
        except QueueUnavailable:
            logger.warning("Task queue unavailable; stopping the dispatch after %s firms", queued)
            _give_up([r for _, r in runs[queued:]])
            return queued
    return len(runs)


def _create_runs(due: list[schedule.Due], now) -> list[tuple[schedule.Due, SyncRun]]:
    """One insert for all; if a Sync Now raced one in, one by one, skipping that firm."""

    def new(plan: schedule.Due) -> SyncRun:
        quick = plan.quick
        return SyncRun(
            firm_id=plan.firm_id,
            trigger=SyncRun.Trigger.QUICK if quick else SyncRun.Trigger.SCHEDULED,
            kind=plan.kind,
            queued_at=now,
            due_at=now + timedelta(seconds=plan.countdown),
        )

    try:
        with transaction.atomic():
            created = SyncRun.objects.bulk_create([new(plan) for plan in due])
        return list(zip(due, created, strict=True))
    except IntegrityError:
        pass
    runs = []
    for plan in due:
        try:
            with transaction.atomic():
                runs.append((plan, SyncRun.objects.create(**_fields(new(plan)))))
        except IntegrityError:
            continue
    return runs


def _fields(run: SyncRun) -> dict:
    names = ("firm_id", "trigger", "kind", "queued_at", "due_at")
    return {name: getattr(run, name) for name in names}


def queue_for(kind: str, practice_size: int) -> str:
    """Quick syncs read a few clients whatever the practice: "sync". Full syncs of a practice
    over XPM_LARGE_PRACTICE_CLIENTS, or of one never listed yet: "sync_large"."""
    if kind == SyncRun.Kind.QUICK:
        return SYNC_QUEUE
    if not practice_size or practice_size > settings.XPM_LARGE_PRACTICE_CLIENTS:
        return LARGE_SYNC_QUEUE
    return SYNC_QUEUE


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
                due_at=timezone.now() + timedelta(seconds=countdown or 0),
            )
    except IntegrityError:
        raise SyncAlreadyRunning(SyncRun.objects.for_firm(firm).active().first()) from None
    size = syncable.values_list("practice_size", flat=True).first() or 0
    try:
        _send(run, countdown, queue_for(kind, size))
    except QueueUnavailable:
        _give_up([run])
        raise
    return run


def _send(run: SyncRun, countdown: int | None, queue: str) -> None:
    try:
        sync_firm_task.apply_async((run.firm_id, run.pk), countdown=countdown, queue=queue)
    except Exception as error:
        if not _is_broker_error(error):
            raise
        logger.warning("Could not queue sync run %s: %s", run.pk, error)
        raise QueueUnavailable(
            "The sync could not be started because the task queue is unavailable. Nothing was "
            "changed; try again in a few minutes."
        ) from error


def _give_up(runs: list[SyncRun]) -> None:
    for run in runs:
        sync.finish(run, SyncRun.Status.FAILED, error="The task queue could not be reached.")


def _is_broker_error(error: Exception) -> bool:
    return isinstance(error, OperationalError | ConnectionError | OSError)


INTERRUPTED = (
    "The sync stopped before it finished (its worker was interrupted). Nothing it started was "
    "kept; the next sync starts afresh."
)
NEVER_STARTED = (
    "The sync waited over two hours for a worker and never started. Nothing changed; the next "
    "sync starts afresh."
)


def recover_stale_runs(firm: Firm | None = None) -> int:
    """Fail runs whose worker died (lease over) and were not taken over, or whose task never
    started, and log and report each as any run that ended (a routine one emails nobody). One
    query when there are none. Each is failed only while still stale: a run whose commit renewed
    its lease meanwhile is left to finish."""
    now = timezone.now()
    stale = Q(status=SyncRun.Status.RUNNING, lease_expires_at__lt=now - TAKEOVER_GRACE) | Q(
        status=SyncRun.Status.QUEUED, queued_at__lt=now - QUEUE_TIMEOUT
    )
    found = SyncRun.objects.filter(stale).select_related("firm", "requested_by")
    if firm is not None:
        found = found.filter(firm=firm)
    failed = 0
    for run in found:
        error = INTERRUPTED if run.status == SyncRun.Status.RUNNING else NEVER_STARTED
        if sync.finish(run, SyncRun.Status.FAILED, where=stale, error=error):
            failed += 1
            sync.record_end(run, reporter=_queue_report)
    return failed
