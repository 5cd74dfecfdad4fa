"""What one run may take of its worker, time and memory, and when it must keep nothing.

Sync workers run threads (a sync mostly waits for Xero), so these are kept by the run itself:
Celery's time limits need processes, and threads share their process's memory. A run commits
only while it still holds the firm: one that outlived its lease keeps nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import SyncRun, XpmConnection

# A whole-list apply holds an index of the practice's rows (about 2 kB a client: 80 MB for
# 40,000); a process of threads applies this many large lists at once, the rest wait their turn.
LARGE_APPLIES_AT_ONCE = 1
_large_applies = threading.BoundedSemaphore(LARGE_APPLIES_AT_ONCE)

# A run's lease from its commit: the time it has to record how it ended.
FINISHING = timedelta(minutes=5)


class SyncAborted(Exception):
    """The sync was stopped part way (the firm disconnected, or the run lost its claim on the
    firm); nothing was kept."""


class OutOfTime(Exception):
    """The run went past XPM_RUN_TIME_LIMIT and stopped; nothing it did was kept."""

    def __init__(self) -> None:
        minutes = settings.XPM_RUN_TIME_LIMIT // 60
        super().__init__(f"The sync took longer than {minutes} minutes and was stopped.")


def deadline() -> float:
    """When a run starting now must stop (``time.monotonic()``), XPM_RUN_TIME_LIMIT from now."""
    return time.monotonic() + settings.XPM_RUN_TIME_LIMIT


def check(until: float | None, *, cause: BaseException | None = None) -> None:
    """Raise OutOfTime once past ``until`` (never, without one)."""
    if until is not None and time.monotonic() > until:
        raise OutOfTime from cause


def in_time(until: float, report: Callable[[int], None]) -> Callable[[int], None]:
    """``report`` the download's progress, once sure the run is still before ``until``: past
    it, OutOfTime stops the run before anything is applied. A read waits at most
    XPM_LIST_TIMEOUT's, so a stalled download still ends inside the lease."""

    def checked(amount: int) -> None:
        check(until)
        report(amount)

    return checked


def stop_statements_at(until: float | None) -> None:
    """Within a transaction: PostgreSQL cancels any of its statements still running at
    ``until``, a lock wait included."""
    if until is None or connection.vendor != "postgresql":
        return
    check(until)
    left_ms = max(1, int((until - time.monotonic()) * 1000))
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(left_ms)])


@contextmanager
def room_to_apply(clients: int, until: float) -> Iterator[None]:
    """Wait, if ``clients`` make a large list, until this process applies no other (at most
    until ``until``), so a worker's memory stays bounded whatever its threads are syncing."""
    if clients <= settings.XPM_LARGE_PRACTICE_CLIENTS:
        yield
        return
    if not _large_applies.acquire(timeout=max(0.0, until - time.monotonic())):
        raise OutOfTime
    try:
        yield
    finally:
        _large_applies.release()


def still_ours(connection_id: int, run: SyncRun | None) -> None:
    """Within the run's transaction, before it commits: roll everything back if the firm
    disconnected meanwhile, or if the run lost its claim on the firm (its lease ran out and it was
    failed, or taken over as a later attempt). Otherwise lock both rows until the commit and
    renew the run's lease over it, so that nothing fails or takes over the run between its
    commit and its finish."""
    still_connected = (
        XpmConnection.objects.select_for_update()
        .filter(pk=connection_id, status__in=XpmConnection.SYNCABLE_STATUSES)
        .exists()
    )
    if not still_connected:
        raise SyncAborted("The firm disconnected from XPM during the sync; nothing was kept.")
    if run is None:
        return
    if not SyncRun.objects.as_left_by(run).update(lease_expires_at=timezone.now() + FINISHING):
        raise SyncAborted(
            "The sync ran past its time and another took over the firm; nothing it did was kept."
        )
