"""Running one sync: claim the queued run, download XPM's client list, apply it, report.

The list is downloaded whole into a spooled file before anything is applied (a slow download
never holds the transaction), parsed as a stream and mirrored in one transaction. Xero asking us
to wait (429) or being unavailable puts the run back in the queue for a bounded number of
retries; whatever the outcome, the summary is emailed.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent

from . import api, credentials, progress, ratelimit, run_limits, schedule
from .mirror import Applied, apply_records
from .models import SyncRun, XpmConnection
from .parse import XpmResponseError, parse_client_list
from .run_limits import SyncAborted
from .safety import HeldForReview
from .summary import check_clients, send_summary
from .tokens import TokenUnreadable

logger = logging.getLogger(__name__)

# Longer than any run: XPM_RUN_TIME_LIMIT, plus one read of the list's XPM_LIST_TIMEOUT at the
# most (the run stops itself; tests/xpmsync/test_time_limit.py pins the sum below the lease).
LEASE = timedelta(minutes=35)
MAX_ATTEMPTS = 4
# Retry waits stay well below Redis's visibility timeout (an hour).
MAX_RETRY_WAIT = 600
# A quick sync asks for what XPM modified since the last good run began, less this: clocks
# differ, and XPM may stamp a change a little before it becomes visible in its list.
QUICK_SYNC_MARGIN = timedelta(minutes=10)


class NotConnected(Exception):
    """The firm has no active XPM connection to sync from."""


@dataclass
class RetryLater(Exception):
    countdown: int
    reason: str
    # Waiting for Xero's budget or another worker's lease is not a failed attempt.
    counts_as_attempt: bool = True


# Reports a finished run (check the clients, email the summary); ``True`` when it is routine.
Reporter = Callable[[SyncRun, bool], None]


def run_sync(run_id: int, firm_id: int, *, reporter: Reporter | None = None) -> SyncRun | None:
    """Claim the queued run and do it. Safe to call twice: only one call claims the run.

    A run whose worker died (its lease ran out while running) is taken over, as a new attempt.
    Raises RetryLater when Xero asked us to wait (429), was unavailable or our budget of calls
    is spent, after putting the run back in the queue; and when another worker holds the run,
    to look again once its lease ends. ``reporter`` reports the finished run (by default here
    and now: the worker's task hands it to the light queue instead).
    """
    now = timezone.now()
    claimable = Q(status=SyncRun.Status.QUEUED) | Q(
        status=SyncRun.Status.RUNNING, lease_expires_at__lt=now, attempts__lt=MAX_ATTEMPTS
    )
    claimed = SyncRun.objects.filter(claimable, pk=run_id, firm_id=firm_id).update(
        status=SyncRun.Status.RUNNING,
        started_at=now,
        lease_expires_at=now + LEASE,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        _wait_for_holder(run_id, firm_id)
        return None
    run = SyncRun.objects.select_related("firm", "requested_by").get(pk=run_id)
    ended = False  # whether this attempt recorded how the run ended (it still held the firm)
    try:
        result = _fetch_and_apply(run)
    except ratelimit.BudgetSpent as spent:
        if spent.problem == "day":
            ended = finish(run, SyncRun.Status.FAILED, **_failure(api.RateLimited(None, "day")))
        else:
            wait = spent.wait + random.randint(1, 5)  # noqa: S311 (jitter: not all at once)
            _requeue(run, f"{spent} Waiting {wait} seconds.", refund_attempt=True)
            raise RetryLater(wait, str(spent), counts_as_attempt=False) from spent
    except (api.RateLimited, api.Unavailable) as error:
        if _should_retry(run, error):
            wait = _retry_wait(run, error)
            _requeue(run, f"{error} Trying again in {wait} seconds.")
            raise RetryLater(wait, str(error)) from error
        ended = finish(run, SyncRun.Status.FAILED, **_failure(error))
    except HeldForReview as held:
        counts = {
            "listed_clients": held.listed,
            "synced_clients": held.synced,
            "would_archive": held.would_archive,
        }
        ended = finish(run, SyncRun.Status.HELD, counts=counts, error=str(held))
        if ended:
            audit.record(run.firm, AuditEvent.Action.XPM_SYNC_HELD, detail=str(held))
    except (
        api.XeroError, XpmResponseError, NotConnected, SyncAborted, run_limits.OutOfTime,
        TokenUnreadable,
    ) as error:  # fmt: skip
        ended = finish(run, SyncRun.Status.FAILED, **_failure(error))
    except Exception as error:
        logger.exception("Sync run %s failed unexpectedly", run.pk)
        ended = finish(
            run,
            SyncRun.Status.FAILED,
            error="The sync failed unexpectedly; nothing changed. The portal's operators can "
            "see what happened; press Sync Now to try again.",
            error_detail=f"{type(error).__name__} (run {run.pk})",
        )
        raise
    else:
        ended = finish(
            run, SyncRun.Status.SUCCEEDED, counts=result.counts, warnings=result.warnings
        )
    finally:
        progress.clear(run.pk)
        if ended:  # a retry waiting in the queue, or a run lost to another, says nothing
            record_end(run, reporter)
    return run


def _wait_for_holder(run_id: int, firm_id: int) -> None:
    """A run this call could not claim: done, or held by a live worker (a duplicate delivery,
    or a redelivery after a worker died before its lease ran out). Only the second is waited
    for, by a RetryLater timed for the lease's end."""
    lease_end, attempts = (
        SyncRun.objects.filter(pk=run_id, firm_id=firm_id, status=SyncRun.Status.RUNNING)
        .values_list("lease_expires_at", "attempts")
        .first()
    ) or (None, MAX_ATTEMPTS)
    if lease_end is None or attempts >= MAX_ATTEMPTS:
        return
    left = int((lease_end - timezone.now()).total_seconds()) + 5
    raise RetryLater(min(max(left, 5), MAX_RETRY_WAIT), "held by another worker", False)


def _should_retry(run: SyncRun, error: Exception) -> bool:
    if isinstance(error, api.RateLimited) and error.problem == "day":
        return False  # the day's quota is gone: spinning would not bring it back
    return run.attempts < MAX_ATTEMPTS


def _retry_wait(run: SyncRun, error: Exception) -> int:
    """Retry-After when Xero gives one; else a jittered backoff, short for a rate limit."""
    if isinstance(error, api.RateLimited):
        if error.retry_after:
            return min(error.retry_after, MAX_RETRY_WAIT)
        # A limit (minute, app-wide minute, concurrent calls) that said not how long: soon.
        backoff = 5 * 2 ** (run.attempts - 1)
        return min(backoff + random.randint(0, 5), 120)  # noqa: S311 (jitter)
    backoff = 30 * 2 ** (run.attempts - 1)
    return min(backoff + random.randint(0, 15), MAX_RETRY_WAIT)  # noqa: S311 (jitter)


def wait_in_process(countdown: int) -> None:
    """Wait out a retry's countdown where no worker can: in-process tasks (no broker).

    Celery's eager mode ignores ``countdown`` and would retry at once; the wait is bounded
    because a web request is waiting too.
    """
    time.sleep(min(countdown, settings.XPM_IN_PROCESS_MAX_WAIT))


def _failure(error: Exception) -> dict[str, Any]:  # Any: finish() takes them as **fields
    """What a failed run shows: a plain reason with what to do, and the technical detail."""
    return {"error": _failure_message(error), "error_detail": _failure_detail(error)}


def _failure_message(error: Exception) -> str:
    if isinstance(error, api.RateLimited) and error.problem == "day":
        return (
            "Xero's daily limit for this practice was reached. Nothing changed; the next daily "
            "sync will try again."
        )
    if isinstance(error, api.RateLimited):
        return (
            f"{error} The portal waited and tried {MAX_ATTEMPTS} times. Nothing changed; press "
            "Sync Now later, or the next daily sync will try again."
        )
    if isinstance(error, api.PermissionMissing):
        return (
            f"{error} Ask an XPM administrator to turn it on under Business > Settings > Staff, "
            "then press Sync Now."
        )
    if isinstance(error, api.DisconnectedInXero):
        return f"{error} Nothing changed."
    if isinstance(error, api.NeedsReconnect | TokenUnreadable):
        return (
            "Xero no longer accepts the portal's connection, so nothing changed. An admin must "
            "reconnect: open Xero Sync and click Reconnect."
        )
    if isinstance(error, XpmResponseError):
        return (
            f"XPM's client list could not be read: {error} Nothing changed. This is usually "
            "temporary; press Sync Now to try again."
        )
    if isinstance(error, api.Unavailable):
        return f"{error} Nothing changed; press Sync Now to try again in a few minutes."
    return f"{error} Nothing changed."


def _failure_detail(error: Exception) -> str:
    detail = getattr(error, "detail", "") or str(error.__cause__ or "")
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _requeue(run: SyncRun, note: str, *, refund_attempt: bool = False) -> None:
    SyncRun.objects.as_left_by(run).update(
        status=SyncRun.Status.QUEUED,
        attempts=F("attempts") - 1 if refund_attempt else F("attempts"),
        queued_at=timezone.now(),
        lease_expires_at=None,
        error=note,
        api_calls=run.api_calls,
        rate_limits=run.rate_limits,
    )
    run.refresh_from_db()


def finish(run: SyncRun, status: str, *, where: Q | None = None, **fields) -> bool:
    """Record how the run ended while its row is as this attempt left it (and ``where``); if it
    lost its claim, write nothing and read the row back. Returns whether it wrote."""
    fields = {"error": "", "error_detail": "", **fields, "status": status}
    fields |= {"finished_at": timezone.now(), "lease_expires_at": None}
    fields |= {"api_calls": run.api_calls, "rate_limits": run.rate_limits}
    if not SyncRun.objects.as_left_by(run).filter(where or Q()).update(**fields):
        logger.warning("Sync run %s had changed meanwhile; this outcome was not kept", run.pk)
        run.refresh_from_db()
        return False
    for name, value in fields.items():
        setattr(run, name, value)
    return True


def record_end(run: SyncRun, reporter: Reporter | None = None) -> None:
    """Log a run that ended in the firm's audit log and report it, unless it is routine."""
    routine = _routine(run)
    _record_outcome(run, routine=routine)
    (reporter or report)(run, routine)


def _routine(run: SyncRun) -> bool:
    """A scheduled quick sync that went well, or a scheduled run that failed as the one of its
    kind before it did: nobody is emailed about it and the audit log does not fill with it
    (its changes are on the timeline, its outcome in the sync history)."""
    if run.trigger not in (SyncRun.Trigger.QUICK, SyncRun.Trigger.SCHEDULED):
        return False
    if run.status == SyncRun.Status.SUCCEEDED:
        return run.trigger == SyncRun.Trigger.QUICK
    before = (
        SyncRun.objects.for_firm(run.firm)
        .filter(kind=run.kind)
        .exclude(pk=run.pk)
        .values("status")
        .first()
    )
    return before is not None and before["status"] == run.status


def _record_outcome(run: SyncRun, *, routine: bool) -> None:
    """A finished or failed run appears in the firm's audit log (a held one was logged already)."""
    if routine and (run.status != SyncRun.Status.SUCCEEDED or run.changed_nothing):
        return
    if run.status == SyncRun.Status.SUCCEEDED:
        changes = ", ".join(
            f"{run.count(name)} {label}" for name, label in _LOGGED_COUNTS if run.count(name)
        )
        detail = f"{run.get_trigger_display()}: {changes or 'no changes'}"
        audit.record(
            run.firm, AuditEvent.Action.XPM_SYNC_SUCCEEDED, actor=run.requested_by, detail=detail
        )
    elif run.status == SyncRun.Status.FAILED:
        detail = f"{run.get_trigger_display()}: {run.error}"
        audit.record(
            run.firm, AuditEvent.Action.XPM_SYNC_FAILED, actor=run.requested_by, detail=detail
        )


_LOGGED_COUNTS = (
    ("clients_created", "new clients"),
    ("clients_updated", "clients updated"),
    ("clients_archived", "archived"),
    ("clients_restored", "restored"),
    ("contacts_created", "new contacts"),
    ("contacts_updated", "contacts updated"),
)


def report(run: SyncRun, routine: bool) -> None:
    """After a run ended: check the clients (duplicates, the worklist) when it changed them,
    and email the summary unless it is routine. Never raises: the run is recorded already."""
    try:
        checked = None
        if run.status == SyncRun.Status.SUCCEEDED and not (routine and run.changed_nothing):
            checked = check_clients(run)  # duplicates and the worklist, emailed or not
        if not routine:
            send_summary(run, checked=checked)
    except Exception:
        logger.exception("Could not check the clients or email the summary of run %s", run.pk)


def _fetch_and_apply(run: SyncRun) -> Applied:
    connection = (
        XpmConnection.objects.for_firm(run.firm)
        .filter(status__in=XpmConnection.SYNCABLE_STATUSES)
        .first()
    )
    if connection is None:
        raise NotConnected("The firm is no longer connected to Xero Practice Manager.")
    quick = _start_quick(run)
    xpm = api.XpmClient(
        connection.tenant_id,
        credentials.token_source(connection),
        budget=ratelimit.Budget(connection.tenant_id),
    )
    until = run_limits.deadline()
    with tempfile.SpooledTemporaryFile(max_size=settings.XPM_LIST_SPOOL_IN_MEMORY) as spool:
        try:
            xpm.download_client_list(
                spool,
                modified_since=run.modified_since if quick else None,
                progress=run_limits.in_time(until, lambda got: progress.downloading(run.pk, got)),
            )
        except api.PermissionMissing:
            # A practice disconnected from Xero's side also answers 403: tell them apart.
            credentials.check_still_connected(connection)
            raise
        finally:
            run.api_calls += xpm.calls
            run.rate_limits = xpm.rate_limits.as_dict() or run.rate_limits
        total = _count_clients(spool)
        progress.applying(run.pk, 0, total)
        if not quick:  # the practice's size decides which queue its full syncs take
            XpmConnection.objects.filter(pk=connection.pk).update(practice_size=total)
        # A full sync holds an index of what the firm has, however short the list that came.
        held = total if quick else max(total, connection.practice_size or 0)
        with run_limits.room_to_apply(held, until):
            return apply_records(
                run.firm,
                parse_client_list(spool),
                connection_id=connection.pk,
                check_safety=not run.skip_safety_check,
                on_batch=lambda applied: progress.applying(run.pk, applied, total),
                whole_list=not quick,
                run=run,
                timeline=settings.XPM_TIMELINE,
                until=until,
            )


def _start_quick(run: SyncRun) -> bool:
    """Whether ``run`` reads only what XPM modified: a quick run, from the start of the last
    successful run less QUICK_SYNC_MARGIN (never the clock at its end, so a change made while
    it ran is picked up now). With no successful run yet, a quick run becomes a full one."""
    if not run.is_quick:
        return False
    last_start = (
        SyncRun.objects.for_firm(run.firm)
        .filter(status=SyncRun.Status.SUCCEEDED, started_at__isnull=False)
        .exclude(pk=run.pk)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    run.kind = SyncRun.Kind.QUICK if last_start else SyncRun.Kind.FULL
    margin = timedelta(seconds=schedule.seconds(QUICK_SYNC_MARGIN.total_seconds()))
    run.modified_since = last_start - margin if last_start else None
    run.save(update_fields=["kind", "modified_since"])
    return run.is_quick


def _count_clients(spool) -> int:
    """How many clients the downloaded list holds, for the progress shown (a fast byte scan;
    leaves the file at its start)."""
    spool.seek(0)
    count, tail = 0, b""
    while chunk := spool.read(2**20):
        count += (tail + chunk).count(b"<Client>")
        tail = chunk[-7:]  # a tag split across two chunks is counted once, in the second
    spool.seek(0)
    return count
