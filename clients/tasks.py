"""Scheduled upkeep of the Clients area (thin Celery tasks over the services)."""

from celery import shared_task

from . import history
from .csv_import import delete_abandoned_previews


@shared_task(ignore_result=True)
def delete_abandoned_imports() -> int:
    """Delete CSV import previews nobody applied within a day, with the client rows they hold."""
    return delete_abandoned_previews()


@shared_task(ignore_result=True)
def prune_timeline() -> int:
    """Delete client timeline entries older than the retention setting (default two years)."""
    return history.prune()
