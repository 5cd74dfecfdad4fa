"""Celery tasks: thin wrappers that take ids, re-load, and call the sync services."""

from celery import shared_task

from . import schedule, sync


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
    """Hourly (Celery beat): queue the daily sync of every connected firm that is due."""
    return schedule.dispatch_due_syncs()
