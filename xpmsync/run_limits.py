"""What one run may take of its worker: time, and memory while it applies a large list.

Sync workers run threads (a sync mostly waits for Xero), so these are kept by the run itself:
Celery's time limits need processes, and threads share their process's memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

from .mirror import SyncAborted

# A whole-list apply holds an index of the practice's rows (about 2 kB a client: 80 MB for
# 40,000); a process of threads applies this many large lists at once, the rest wait their turn.
LARGE_APPLIES_AT_ONCE = 1
_large_applies = threading.BoundedSemaphore(LARGE_APPLIES_AT_ONCE)


class OutOfTime(SyncAborted):
    def __init__(self) -> None:
        minutes = settings.XPM_RUN_TIME_LIMIT // 60
        super().__init__(f"The sync took longer than {minutes} minutes and was stopped.")


def deadline() -> float:
    """When a run starting now must stop (``time.monotonic()``), XPM_RUN_TIME_LIMIT from now."""
    return time.monotonic() + settings.XPM_RUN_TIME_LIMIT


def in_time(until: float, report: Callable[[int], None]) -> Callable[[int], None]:
    """``report`` progress, once sure the run is still before ``until``: past it, OutOfTime
    rolls the run back, well before its lease runs out."""

    def checked(amount: int) -> None:
        if time.monotonic() > until:
            raise OutOfTime
        report(amount)

    return checked


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
