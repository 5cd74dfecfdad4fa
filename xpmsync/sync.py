"""Syncing a firm's clients and contacts one way from XPM into the portal.

``request_sync`` queues a run unless the firm already has one queued or running (a partial
unique index is the lock; a run whose worker died is recovered once its lease runs out).
``run_sync`` claims a queued run, fetches and parses the detailed client list, and applies it in
one transaction with a bounded number of queries: all or nothing, and nothing written when
nothing changed. Matching is on XPM UUIDs only.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import Firm, User
from clients.models import Client, ClientContact, Contact
from clients.primary import Candidate, choose_primary, first_word

from . import api
from .models import SyncRun, XpmConnection
from .parse import ClientRecord, ContactRecord, XpmResponseError, parse_client_list
from .summary import send_summary
from .tokens import TokenUnreadable

logger = logging.getLogger(__name__)

# Longer than the task's hard time limit, so a live run never outlasts its lease.
LEASE = timedelta(minutes=35)
# A queued run whose task never started (the broker lost it) is given up after this.
QUEUE_TIMEOUT = timedelta(hours=2)
MAX_ATTEMPTS = 4
# Retry waits stay well below Redis's visibility timeout (an hour).
MAX_RETRY_WAIT = 600
BATCH_SIZE = 1000
# Rows created in one run past which the planner's statistics are refreshed.
ANALYZE_AFTER = 1000
WARNING_NAMES = 20

CLIENT_FIELDS = [
    "name", "kind", "email", "phone", "website", "address", "city", "region", "postcode",
    "country", "postal_address", "postal_city", "postal_region", "postal_postcode",
    "postal_country", "is_prospect", "business_structure", "client_type", "account_manager",
    "job_manager", "company_number", "business_number", "referral_source",
]  # fmt: skip
CONTACT_FIELDS = [
    "name", "first_name", "last_name", "salutation", "addressee", "email", "phone", "mobile",
]  # fmt: skip


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun | None) -> None:
        super().__init__("A sync is already queued or running for this firm.")
        self.run = run


class NotConnected(Exception):
    """The firm has no active XPM connection to sync from."""


class QueueUnavailable(Exception):
    """The task queue could not be reached, so the sync was not started."""


class SyncAborted(Exception):
    """The firm disconnected while the sync was running; nothing was kept."""


@dataclass
class RetryLater(Exception):
    countdown: int
    reason: str


# --- Queueing ----------------------------------------------------------------------------------


def request_sync(
    firm: Firm, *, trigger: str, user: User | None = None, countdown: int | None = None
) -> SyncRun:
    """Queue a sync of ``firm``; raises SyncAlreadyRunning while one is queued or running."""
    recover_stale_runs(firm)
    if not XpmConnection.objects.for_firm(firm).filter(status=XpmConnection.Status.ACTIVE).exists():
        raise NotConnected("The firm is not connected to Xero Practice Manager.")
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(firm=firm, trigger=trigger, requested_by=user)
    except IntegrityError:
        raise SyncAlreadyRunning(SyncRun.objects.for_firm(firm).active().first()) from None
    _enqueue(run, countdown)
    return run


def _enqueue(run: SyncRun, countdown: int | None) -> None:
    from .tasks import sync_firm_task

    try:
        sync_firm_task.apply_async((run.firm_id, run.pk), countdown=countdown)
    except Exception as error:
        if not _is_broker_error(error):
            raise
        logger.warning("Could not queue sync run %s: %s", run.pk, error)
        _finish(run, SyncRun.Status.FAILED, error="The task queue could not be reached.")
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


# --- Running -----------------------------------------------------------------------------------


def run_sync(run_id: int, firm_id: int) -> SyncRun | None:
    """Claim the queued run and do it. Safe to call twice: only one call claims the run.

    Raises RetryLater when Xero asked us to wait (429) or was unavailable, after putting the
    run back in the queue.
    """
    now = timezone.now()
    claimed = SyncRun.objects.filter(
        pk=run_id, firm_id=firm_id, status=SyncRun.Status.QUEUED
    ).update(
        status=SyncRun.Status.RUNNING,
        started_at=now,
        lease_expires_at=now + LEASE,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    run = SyncRun.objects.select_related("firm", "requested_by").get(pk=run_id)
    try:
        result = _fetch_and_apply(run)
    except (api.RateLimited, api.Unavailable) as error:
        if _should_retry(run, error):
            wait = _retry_wait(run, error)
            _requeue(run, f"{error} Trying again in {wait} seconds.")
            raise RetryLater(wait, str(error)) from error
        _finish(run, SyncRun.Status.FAILED, error=_failure_message(error))
    except (api.XeroError, XpmResponseError, NotConnected, SyncAborted, TokenUnreadable) as error:
        _finish(run, SyncRun.Status.FAILED, error=_failure_message(error))
    except Exception:
        logger.exception("Sync run %s failed unexpectedly", run.pk)
        _finish(run, SyncRun.Status.FAILED, error="The sync failed unexpectedly; nothing changed.")
        raise
    else:
        _finish(run, SyncRun.Status.SUCCEEDED, counts=result.counts, warnings=result.warnings)
    finally:
        _notify(run)
    return run


def _should_retry(run: SyncRun, error: Exception) -> bool:
    if isinstance(error, api.RateLimited) and error.problem == "day":
        return False  # the day's quota is gone: spinning would not bring it back
    return run.attempts < MAX_ATTEMPTS


def _retry_wait(run: SyncRun, error: Exception) -> int:
    if isinstance(error, api.RateLimited) and error.retry_after:
        return min(error.retry_after, MAX_RETRY_WAIT)
    backoff = 30 * 2 ** (run.attempts - 1)
    return min(backoff + random.randint(0, 15), MAX_RETRY_WAIT)  # noqa: S311 (jitter)


def _failure_message(error: Exception) -> str:
    if isinstance(error, api.RateLimited) and error.problem == "day":
        return (
            "Xero's daily limit for this practice was reached. Nothing changed; the next daily "
            "sync will try again."
        )
    if isinstance(error, api.PermissionMissing):
        return (
            f"{error} Ask an XPM administrator to turn it on under Business > Settings > Staff, "
            "then press Sync Now."
        )
    if isinstance(error, XpmResponseError):
        return f"XPM's client list could not be read: {error} Nothing changed."
    return f"{error} Nothing changed."


def _requeue(run: SyncRun, note: str) -> None:
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.QUEUED,
        queued_at=timezone.now(),
        lease_expires_at=None,
        error=note,
        api_calls=run.api_calls,
        rate_limits=run.rate_limits,
    )
    run.refresh_from_db()


def _finish(run: SyncRun, status: str, **fields) -> None:
    fields.setdefault("error", "")
    run.status = status
    run.finished_at = timezone.now()
    run.lease_expires_at = None
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(
        update_fields=[
            "status", "finished_at", "lease_expires_at", "api_calls", "rate_limits", *fields,
        ]
    )  # fmt: skip


def _notify(run: SyncRun) -> None:
    if run.status in SyncRun.ACTIVE_STATUSES:
        return
    try:
        send_summary(run)
    except Exception:
        logger.exception("Could not email the summary of sync run %s", run.pk)


def _fetch_and_apply(run: SyncRun) -> Applied:
    connection = (
        XpmConnection.objects.for_firm(run.firm).filter(status=XpmConnection.Status.ACTIVE).first()
    )
    if connection is None:
        raise NotConnected("The firm is no longer connected to Xero Practice Manager.")
    xpm = api.XpmClient(connection)
    try:
        with xpm.client_list() as response:
            records = list(parse_client_list(response.raw))
    finally:
        run.api_calls += xpm.calls
        run.rate_limits = xpm.rate_limits.as_dict() or run.rate_limits
    return apply_records(run.firm, records, connection_id=connection.pk)


# --- Applying ----------------------------------------------------------------------------------


@dataclass
class Applied:
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)


def apply_records(firm: Firm, records: Sequence[ClientRecord], *, connection_id: int) -> Applied:
    """Make the firm's XPM clients, contacts and links mirror ``records``, all or nothing."""
    records = _first_by_uuid(records)
    counts = dict.fromkeys(SyncRun.COUNTS, 0)
    now = timezone.now()
    with transaction.atomic():
        client_ids = _apply_clients(firm, records, counts, now)
        active = [r for r in records if r.is_active]
        contact_ids = _apply_contacts(firm, active, counts, now)
        _apply_links(firm, active, client_ids, contact_ids, counts)
        # A disconnect that happened meanwhile wins: roll everything back.
        still_connected = (
            XpmConnection.objects.select_for_update()
            .filter(pk=connection_id, status=XpmConnection.Status.ACTIVE)
            .exists()
        )
        if not still_connected:
            raise SyncAborted("The firm disconnected from XPM during the sync; nothing was kept.")
    if counts["clients_created"] + counts["contacts_created"] >= ANALYZE_AFTER:
        _refresh_planner_statistics()
    return Applied(counts=counts, warnings=_warnings(active))


def _refresh_planner_statistics() -> None:
    """After a big first sync, tell PostgreSQL's planner the tables grew.

    Until autovacuum gets round to it, the planner believes a new firm has a handful of rows and
    sorts all of them for the client list instead of walking the list's index (56 ms against
    0.1 ms at 50,000 clients).
    """
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in (Client, Contact, ClientContact)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


def _first_by_uuid(items: Iterable) -> list:
    """The items with their UUIDs' first occurrences only, in order."""
    seen: dict = {}
    for item in items:
        seen.setdefault(item.uuid, item)
    return list(seen.values())


def _max_lengths(model, names) -> dict[str, int]:
    return {name: model._meta.get_field(name).max_length or 0 for name in names}


_CLIENT_LIMITS = _max_lengths(Client, CLIENT_FIELDS)
_CONTACT_LIMITS = _max_lengths(Contact, CONTACT_FIELDS)
_POSITION_LIMIT = ClientContact._meta.get_field("position").max_length


def _fit(values: dict, limits: dict[str, int]) -> dict:
    """Cut text to the column sizes, so one over-long value from XPM cannot fail a run."""
    for name, limit in limits.items():
        value = values[name]
        if limit and isinstance(value, str) and len(value) > limit:
            values[name] = value[:limit]
    return values


def _client_values(record: ClientRecord) -> dict:
    values = {
        "name": record.name,
        "kind": Client.Kind.INDIVIDUAL if record.is_individual else Client.Kind.ORGANISATION,
        "email": record.email,
        "phone": record.phone,
        "website": record.website,
        "address": record.address,
        "city": record.city,
        "region": record.region,
        "postcode": record.postcode,
        "country": record.country,
        "postal_address": record.postal_address,
        "postal_city": record.postal_city,
        "postal_region": record.postal_region,
        "postal_postcode": record.postal_postcode,
        "postal_country": record.postal_country,
        "is_prospect": record.is_prospect,
        "business_structure": record.business_structure,
        "client_type": record.client_type,
        "account_manager": record.account_manager,
        "job_manager": record.job_manager,
        "company_number": record.company_number,
        "business_number": record.business_number,
        "referral_source": record.referral_source,
    }
    return _fit(values, _CLIENT_LIMITS)


def _contact_values(record: ContactRecord) -> dict:
    first = first_word(record.name)
    values = {
        "name": record.name,
        "first_name": first,
        "last_name": record.name[len(first) :].strip(),
        "salutation": record.salutation,
        "addressee": record.addressee,
        "email": record.email,
        "phone": record.phone,
        "mobile": record.mobile,
    }
    return _fit(values, _CONTACT_LIMITS)


def _apply_clients(firm: Firm, records, counts: dict, now) -> dict[str, int]:
    # Plain tuples, not model instances: a 50,000-client practice costs far less memory and
    # time, and instances are built only for the rows that change.
    existing = {
        str(row[1]): row
        for row in Client.objects.for_firm(firm)
        .filter(xpm_uuid__isnull=False)
        .values_list("id", "xpm_uuid", "is_archived", "source", *CLIENT_FIELDS)
        .iterator(chunk_size=5000)
    }
    to_create, to_update = [], []
    for record in records:
        row = existing.get(record.uuid)
        values = _client_values(record)
        if row is None:
            if record.is_active:
                to_create.append(
                    Client(
                        firm=firm,
                        xpm_uuid=record.uuid,
                        source=Client.Source.XPM,
                        created_at=now,
                        updated_at=now,
                        last_synced_at=now,
                        **values,
                    )
                )
                counts["clients_created"] += 1
            continue
        pk, _uuid, was_archived, source, *old_values = row
        fields_changed = [values[name] for name in CLIENT_FIELDS] != old_values
        archived_changed = record.is_active == was_archived
        if fields_changed:
            counts["clients_updated"] += 1
        if archived_changed:
            counts["clients_restored" if record.is_active else "clients_archived"] += 1
        if fields_changed or archived_changed or source != Client.Source.XPM:
            to_update.append(
                Client(
                    pk=pk,
                    is_archived=not record.is_active,
                    source=Client.Source.XPM,
                    updated_at=now,
                    last_synced_at=now,
                    **values,
                )
            )
        else:
            counts["clients_unchanged"] += 1
    listed = {record.uuid for record in records}
    gone = [row[0] for uuid, row in existing.items() if uuid not in listed and not row[2]]
    counts["clients_archived"] += len(gone)
    Client.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    if to_update:
        Client.objects.bulk_update(
            to_update,
            [*CLIENT_FIELDS, "is_archived", "source", "updated_at", "last_synced_at"],
            batch_size=BATCH_SIZE,
        )
    for start in range(0, len(gone), BATCH_SIZE):
        Client.objects.filter(pk__in=gone[start : start + BATCH_SIZE]).update(
            is_archived=True, updated_at=now, last_synced_at=now
        )
    ids = {str(client.xpm_uuid): client.pk for client in to_create}
    ids.update({uuid: row[0] for uuid, row in existing.items()})
    return ids


def _apply_contacts(firm: Firm, active: list[ClientRecord], counts: dict, now):
    wanted: dict[str, ContactRecord] = {}
    for record in active:
        for contact in record.contacts:
            if not contact.is_deleted:
                wanted.setdefault(contact.uuid, contact)
    existing = {
        str(row[1]): row
        for row in Contact.objects.for_firm(firm)
        .filter(xpm_uuid__isnull=False)
        .values_list("id", "xpm_uuid", *CONTACT_FIELDS)
        .iterator(chunk_size=5000)
    }
    to_create, to_update = [], []
    for uuid, record in wanted.items():
        values = _contact_values(record)
        row = existing.get(uuid)
        if row is None:
            to_create.append(
                Contact(firm=firm, xpm_uuid=uuid, created_at=now, updated_at=now, **values)
            )
        elif tuple(values[name] for name in CONTACT_FIELDS) != row[2:]:
            to_update.append(Contact(pk=row[0], updated_at=now, **values))
    Contact.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    if to_update:
        Contact.objects.bulk_update(
            to_update, [*CONTACT_FIELDS, "updated_at"], batch_size=BATCH_SIZE
        )
    counts["contacts_created"] += len(to_create)
    counts["contacts_updated"] += len(to_update)
    ids = {uuid: row[0] for uuid, row in existing.items()}
    ids.update({str(contact.xpm_uuid): contact.pk for contact in to_create})
    return ids


@dataclass(frozen=True)
class _Link:
    position: str
    is_xpm_primary: bool
    is_primary: bool


def _wanted_links(active, client_ids, contact_ids) -> dict[tuple[int, int], _Link]:
    """Every link XPM describes, with the primary contact chosen in memory by the rule."""
    wanted: dict[tuple[int, int], _Link] = {}
    for record in active:
        client_id = client_ids[record.uuid]
        contacts = _first_by_uuid(c for c in record.contacts if not c.is_deleted)
        chosen = choose_primary(
            [
                Candidate(
                    name=c.name, salutation=c.salutation, uuid=c.uuid, is_xpm_primary=c.is_primary
                )
                for c in contacts
            ]
        )
        for index, contact in enumerate(contacts):
            wanted[(client_id, contact_ids[contact.uuid])] = _Link(
                position=contact.position[:_POSITION_LIMIT],
                is_xpm_primary=contact.is_primary,
                is_primary=chosen is not None and chosen[0] == index,
            )
    return wanted


def _apply_links(firm, active, client_ids, contact_ids, counts) -> None:
    wanted = _wanted_links(active, client_ids, contact_ids)
    active_ids = {client_ids[record.uuid] for record in active}
    existing = {
        (link.client_id, link.contact_id): link
        for link in ClientContact.objects.for_firm(firm)
        .filter(client__xpm_uuid__isnull=False)
        .only("id", "client_id", "contact_id", "position", "is_xpm_primary", "is_primary")
        if link.client_id in active_ids
    }
    to_create, to_update, to_delete, losing_primary = [], [], [], []
    for key, want in wanted.items():
        link = existing.get(key)
        if link is None:
            to_create.append(
                ClientContact(
                    firm=firm,
                    client_id=key[0],
                    contact_id=key[1],
                    position=want.position,
                    is_xpm_primary=want.is_xpm_primary,
                    is_primary=want.is_primary,
                )
            )
        elif _Link(link.position, link.is_xpm_primary, link.is_primary) != want:
            if link.is_primary and not want.is_primary:
                losing_primary.append(link.pk)
            link.position, link.is_xpm_primary = want.position, want.is_xpm_primary
            link.is_primary = want.is_primary
            to_update.append(link)
    to_delete = [link.pk for key, link in existing.items() if key not in wanted]
    # Deletions and lost primaries first: one primary per client is a database constraint.
    for start in range(0, len(to_delete), BATCH_SIZE):
        ClientContact.objects.filter(pk__in=to_delete[start : start + BATCH_SIZE]).delete()
    for start in range(0, len(losing_primary), BATCH_SIZE):
        chunk = losing_primary[start : start + BATCH_SIZE]
        ClientContact.objects.filter(pk__in=chunk).update(is_primary=False)
    if to_update:
        ClientContact.objects.bulk_update(
            to_update, ["position", "is_xpm_primary", "is_primary"], batch_size=BATCH_SIZE
        )
    ClientContact.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    counts["contacts_unlinked"] += len(to_delete)


def _warnings(active: list[ClientRecord]) -> list[dict]:
    warnings = []
    no_email = [r.name for r in active if not r.email]
    if no_email:
        warnings.append(
            {
                "kind": "no_email",
                "message": f"{len(no_email)} client{'s' if len(no_email) != 1 else ''} "
                "without an email address in XPM",
                "names": no_email[:WARNING_NAMES],
                "count": len(no_email),
            }
        )
    no_contacts = [r.name for r in active if not any(not c.is_deleted for c in r.contacts)]
    if no_contacts:
        warnings.append(
            {
                "kind": "no_contacts",
                "message": f"{len(no_contacts)} client{'s' if len(no_contacts) != 1 else ''} "
                "without contacts in XPM",
                "names": no_contacts[:WARNING_NAMES],
                "count": len(no_contacts),
            }
        )
    return warnings
