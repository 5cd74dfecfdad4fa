"""Syncing a firm's clients and contacts one way from XPM into the portal.

``request_sync`` queues a run unless the firm already has one queued or running (a partial
unique index is the lock; a run whose worker died is recovered once its lease runs out).
``run_sync`` claims a queued run, fetches and parses the detailed client list, and applies it in
one transaction with a bounded number of queries: all or nothing, and nothing written when
nothing changed. Matching is on XPM UUIDs only. A list that would wipe the firm (empty, or
archiving more than a set share of its synced clients) is rolled back and the run held for an
admin to review.
"""

from __future__ import annotations

import itertools
import logging
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts import audit
from accounts.models import AuditEvent, Firm, User
from clients.models import Client, ClientContact, Contact
from clients.primary import Candidate, choose_primary, first_word

from . import api, bulk
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
# Clients applied together: each batch costs a handful of queries and holds little memory.
BATCH_SIZE = 2000
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


@dataclass
class HeldForReview(Exception):
    """The list would archive too much of the firm: nothing was applied."""

    listed: int  # active clients in XPM's answer
    synced: int  # active XPM clients the portal holds
    would_archive: int

    def __str__(self) -> str:
        return (
            f"XPM returned {self.listed:,} of your {self.synced:,} clients. Applying it would "
            f"archive {self.would_archive:,} of them, so nothing was changed until an admin "
            "reviews it."
        )


# --- Queueing ----------------------------------------------------------------------------------


def request_sync(
    firm: Firm, *, trigger: str, user: User | None = None, countdown: int | None = None
) -> SyncRun:
    """Queue a sync of ``firm``; raises SyncAlreadyRunning while one is queued or running."""
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
                skip_safety_check=trigger == SyncRun.Trigger.REVIEWED,
            )
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
    except HeldForReview as held:
        counts = {
            "listed_clients": held.listed,
            "synced_clients": held.synced,
            "would_archive": held.would_archive,
        }
        _finish(run, SyncRun.Status.HELD, counts=counts, error=str(held))
        audit.record(run.firm, AuditEvent.Action.XPM_SYNC_HELD, detail=str(held))
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
        XpmConnection.objects.for_firm(run.firm)
        .filter(status__in=XpmConnection.SYNCABLE_STATUSES)
        .first()
    )
    if connection is None:
        raise NotConnected("The firm is no longer connected to Xero Practice Manager.")
    xpm = api.XpmClient(connection)
    with tempfile.SpooledTemporaryFile(max_size=settings.XPM_LIST_SPOOL_IN_MEMORY) as spool:
        try:
            xpm.download_client_list(spool)
        finally:
            run.api_calls += xpm.calls
            run.rate_limits = xpm.rate_limits.as_dict() or run.rate_limits
        spool.seek(0)
        return apply_records(
            run.firm,
            parse_client_list(spool),
            connection_id=connection.pk,
            check_safety=not run.skip_safety_check,
        )


# --- Applying ----------------------------------------------------------------------------------


@dataclass
class Applied:
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)


def apply_records(
    firm: Firm,
    records: Iterable[ClientRecord],
    *,
    connection_id: int,
    check_safety: bool = True,
) -> Applied:
    """Make the firm's XPM clients, contacts and links mirror ``records``, all or nothing.

    ``records`` is consumed as a stream, a batch of clients at a time, inside one transaction:
    memory holds one batch, the UUIDs seen so far and a compact index of the rows the portal
    already holds (ids and hashes of their values), never the whole list.

    With ``check_safety``, a list that would wipe the firm raises HeldForReview, which rolls
    everything back.
    """
    with transaction.atomic():
        mirror = _Mirror(firm)
        for batch in itertools.batched(records, BATCH_SIZE):
            mirror.apply(batch)
        if check_safety:
            mirror.check_safety()
        mirror.archive_unlisted()
        # A disconnect that happened meanwhile wins: roll everything back.
        still_connected = (
            XpmConnection.objects.select_for_update()
            .filter(pk=connection_id, status=XpmConnection.Status.ACTIVE)
            .exists()
        )
        if not still_connected:
            raise SyncAborted("The firm disconnected from XPM during the sync; nothing was kept.")
    counts = mirror.counts
    if counts["clients_created"] + counts["contacts_created"] >= ANALYZE_AFTER:
        _settle_after_big_sync()
    return Applied(counts=counts, warnings=mirror.warnings.as_list())


def _settle_after_big_sync() -> None:
    """After a sync that added many rows, leave PostgreSQL as searches and pages need it.

    - ANALYZE: until autovacuum gets round to it, the planner believes a new firm has a handful
      of rows and sorts all of them for the client list instead of walking the list's index
      (56 ms against 0.1 ms at 50,000 clients).
    - The search's trigram (GIN) indexes collect new entries in a pending list (64 MB, set by
      their migration) rather than merging them into the index row by row, which made a
      first sync's inserts grow faster than its size; the list is merged here in one pass,
      so searches do not have to scan it.
    """
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in (Client, Contact, ClientContact)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE am.amname = 'gin' AND i.indrelid = ANY(%s::regclass[])",
            [tables],
        )
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


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
    kind = Client.Kind.INDIVIDUAL if record.is_individual else Client.Kind.ORGANISATION
    values = {
        "name": record.name,
        "kind": kind.value,  # the plain string: rows are compared by hash, and members hash apart
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


def _live_contacts(record: ClientRecord) -> list[ContactRecord]:
    """The client's contacts that XPM has not deleted, each UUID once (its first listing)."""
    seen: dict[str, ContactRecord] = {}
    for contact in record.contacts:
        if not contact.is_deleted:
            seen.setdefault(contact.uuid, contact)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class _Link:
    position: str
    is_xpm_primary: bool
    is_primary: bool

    FIELDS: ClassVar[tuple[str, ...]] = ("position", "is_xpm_primary", "is_primary")


def _stream(rows, *fields: str):
    """``rows`` as tuples of ``fields``, fetched in chunks rather than all at once."""
    return rows.order_by().values_list(*fields).iterator(chunk_size=5000)


class _Mirror:
    """One sync's pass over the list: applies it a batch of clients at a time.

    What the portal already holds of the firm's XPM rows is read once, at the start, in compact
    form: each row's id and a hash of its synced values, not the values themselves (a few MB at
    50,000 clients, where the values took 200). Batches then only write: no lookups, so no
    batch rescans a growing table. A changed row whose new values hash exactly like its old
    ones (odds about one in 2**64, with Python's per-process hash key) would keep its old values
    until it next changes.

    A client's contacts and links are applied with the client, so every batch is complete in
    itself; across batches it remembers the client UUIDs listed (to archive the rest at the end)
    and the contacts already written (a contact at several clients is written once, from its
    first listing, and linked to each).
    """

    def __init__(self, firm: Firm) -> None:
        self.firm = firm
        self.now = timezone.now()
        self.counts = dict.fromkeys(SyncRun.COUNTS, 0)
        self.warnings = _Warnings()
        self.listed: set[str] = set()
        self.listed_active = 0
        self.contact_ids: dict[str, int] = {}
        clients = Client.objects.for_firm(firm).filter(xpm_uuid__isnull=False)
        self.clients = {
            str(uuid): (pk, is_archived, source, hash(tuple(values)))
            for uuid, pk, is_archived, source, *values in _stream(
                clients, "xpm_uuid", "id", "is_archived", "source", *CLIENT_FIELDS
            )
        }
        contacts = Contact.objects.for_firm(firm).filter(xpm_uuid__isnull=False)
        self.contacts = {
            str(uuid): (pk, hash(tuple(values)))
            for uuid, pk, *values in _stream(contacts, "xpm_uuid", "id", *CONTACT_FIELDS)
        }
        links = ClientContact.objects.for_firm(firm).filter(client__xpm_uuid__isnull=False)
        self.links: dict[int, dict[int, tuple[int, _Link]]] = defaultdict(dict)
        for pk, client_id, contact_id, *link in _stream(
            links, "id", "client_id", "contact_id", *_Link.FIELDS
        ):
            self.links[client_id][contact_id] = (pk, _Link(*link))

    def apply(self, batch: Sequence[ClientRecord]) -> None:
        records = []
        for record in batch:  # a UUID listed twice counts once: its first listing
            if record.uuid not in self.listed:
                self.listed.add(record.uuid)
                records.append(record)
        client_ids = self._apply_clients(records)
        active = [record for record in records if record.is_active]
        self.listed_active += len(active)
        contacts = {record.uuid: _live_contacts(record) for record in active}
        self._apply_contacts(contacts)
        self._apply_links(contacts, client_ids)
        self.warnings.add(active, contacts)

    def _apply_clients(self, records: list[ClientRecord]) -> dict[str, int]:
        """Write the batch's clients; return every listed client's id by UUID."""
        to_create, to_update, ids = [], [], {}
        counts, now = self.counts, self.now
        for record in records:
            values = _client_values(record)
            held = self.clients.get(record.uuid)
            if held is None:
                if record.is_active:
                    to_create.append(
                        {
                            "firm_id": self.firm.pk,
                            "xpm_uuid": record.uuid,
                            "source": Client.Source.XPM.value,
                            "is_archived": False,
                            "created_at": now,
                            "updated_at": now,
                            "last_synced_at": now,
                            **values,
                        }
                    )
                continue
            pk, was_archived, source, digest = held
            ids[record.uuid] = pk
            fields_changed = hash(tuple(values[name] for name in CLIENT_FIELDS)) != digest
            archived_changed = record.is_active == was_archived
            if fields_changed:
                counts["clients_updated"] += 1
            if archived_changed:
                counts["clients_restored" if record.is_active else "clients_archived"] += 1
            if fields_changed or archived_changed or source != Client.Source.XPM:
                to_update.append(
                    {
                        "id": pk,
                        "is_archived": not record.is_active,
                        "source": Client.Source.XPM.value,
                        "updated_at": now,
                        "last_synced_at": now,
                        **values,
                    }
                )
            else:
                counts["clients_unchanged"] += 1
        new_ids = bulk.insert(Client, to_create)
        counts["clients_created"] += len(to_create)
        bulk.update(
            Client,
            to_update,
            [*CLIENT_FIELDS, "is_archived", "source", "updated_at", "last_synced_at"],
        )
        ids.update((row["xpm_uuid"], pk) for row, pk in zip(to_create, new_ids, strict=True))
        return ids

    def _apply_contacts(self, contacts: dict[str, list[ContactRecord]]) -> None:
        wanted: dict[str, ContactRecord] = {}
        for listed in contacts.values():
            for contact in listed:
                if contact.uuid not in self.contact_ids:
                    wanted.setdefault(contact.uuid, contact)
        to_create, to_update = [], []
        for uuid, record in wanted.items():
            values = _contact_values(record)
            held = self.contacts.get(uuid)
            if held is None:
                to_create.append(
                    {
                        "firm_id": self.firm.pk,
                        "xpm_uuid": uuid,
                        "created_at": self.now,
                        "updated_at": self.now,
                        **values,
                    }
                )
                continue
            pk, digest = held
            self.contact_ids[uuid] = pk
            if hash(tuple(values[name] for name in CONTACT_FIELDS)) != digest:
                to_update.append({"id": pk, "updated_at": self.now, **values})
        new_ids = bulk.insert(Contact, to_create)
        bulk.update(Contact, to_update, [*CONTACT_FIELDS, "updated_at"])
        self.counts["contacts_created"] += len(to_create)
        self.counts["contacts_updated"] += len(to_update)
        self.contact_ids.update(
            (row["xpm_uuid"], pk) for row, pk in zip(to_create, new_ids, strict=True)
        )

    def _wanted_links(self, contacts, client_ids) -> dict[tuple[int, int], _Link]:
        """Every link XPM describes, with the primary contact chosen in memory by the rule."""
        wanted: dict[tuple[int, int], _Link] = {}
        for uuid, listed in contacts.items():
            client_id = client_ids[uuid]
            chosen = choose_primary(
                [
                    Candidate(
                        name=c.name,
                        salutation=c.salutation,
                        uuid=c.uuid,
                        is_xpm_primary=c.is_primary,
                    )
                    for c in listed
                ]
            )
            for index, contact in enumerate(listed):
                wanted[(client_id, self.contact_ids[contact.uuid])] = _Link(
                    position=contact.position[:_POSITION_LIMIT],
                    is_xpm_primary=contact.is_primary,
                    is_primary=chosen is not None and chosen[0] == index,
                )
        return wanted

    def _apply_links(self, contacts, client_ids) -> None:
        wanted = self._wanted_links(contacts, client_ids)
        existing = {
            (client_id, contact_id): held
            for client_id in (client_ids[uuid] for uuid in contacts)
            for contact_id, held in self.links.pop(client_id, {}).items()
        }
        to_create, to_update, losing_primary = [], [], []
        for key, want in wanted.items():
            pk, link = existing.get(key, (None, None))
            if link is None:
                to_create.append(
                    {
                        "firm_id": self.firm.pk,
                        "client_id": key[0],
                        "contact_id": key[1],
                        "position": want.position,
                        "is_xpm_primary": want.is_xpm_primary,
                        "is_primary": want.is_primary,
                    }
                )
            elif link != want:
                if link.is_primary and not want.is_primary:
                    losing_primary.append(pk)
                to_update.append(
                    {
                        "id": pk,
                        "position": want.position,
                        "is_xpm_primary": want.is_xpm_primary,
                        "is_primary": want.is_primary,
                    }
                )
        to_delete = [pk for key, (pk, _link) in existing.items() if key not in wanted]
        # Deletions and lost primaries first: one primary per client is a database constraint.
        if to_delete:
            ClientContact.objects.filter(pk__in=to_delete).delete()
        if losing_primary:
            ClientContact.objects.filter(pk__in=losing_primary).update(is_primary=False)
        bulk.update(ClientContact, to_update, _Link.FIELDS)
        bulk.insert(ClientContact, to_create, ids=False)
        self.counts["contacts_unlinked"] += len(to_delete)

    def _unlisted(self) -> list[int]:
        return [
            pk
            for uuid, (pk, is_archived, _source, _digest) in self.clients.items()
            if uuid not in self.listed and not is_archived
        ]

    def check_safety(self) -> None:
        """Refuse a list that would wipe the firm: empty, or archiving too large a share.

        XPM answering OK with a fraction of the practice (a permission change, an outage on
        Xero's side) must not archive a firm's clients overnight; an admin decides instead.
        """
        synced = sum(1 for _pk, is_archived, *_ in self.clients.values() if not is_archived)
        would_archive = self.counts["clients_archived"] + len(self._unlisted())
        too_many = would_archive >= settings.XPM_HOLD_MIN_CLIENTS and (
            would_archive > settings.XPM_HOLD_SHARE * synced
        )
        if synced and (self.listed_active == 0 or too_many):
            raise HeldForReview(
                listed=self.listed_active, synced=synced, would_archive=would_archive
            )

    def archive_unlisted(self) -> None:
        """Archive the XPM clients the list no longer has (XPM deleted them)."""
        gone = self._unlisted()
        for start in range(0, len(gone), BATCH_SIZE):
            Client.objects.filter(pk__in=gone[start : start + BATCH_SIZE]).update(
                is_archived=True, updated_at=self.now, last_synced_at=self.now
            )
        self.counts["clients_archived"] += len(gone)


class _Warnings:
    """What the summary email points out, gathered batch by batch: counts and the first names."""

    KINDS = {
        "no_email": "without an email address in XPM",
        "no_contacts": "without contacts in XPM",
    }

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {kind: [] for kind in self.KINDS}
        self.totals = dict.fromkeys(self.KINDS, 0)

    def add(self, active: list[ClientRecord], contacts: dict[str, list]) -> None:
        for record in active:
            if not record.email:
                self._note("no_email", record.name)
            if not contacts[record.uuid]:
                self._note("no_contacts", record.name)

    def _note(self, kind: str, name: str) -> None:
        self.totals[kind] += 1
        if len(self.names[kind]) < WARNING_NAMES:
            self.names[kind].append(name)

    def as_list(self) -> list[dict]:
        return [
            {
                "kind": kind,
                "message": f"{count} client{'s' if count != 1 else ''} {self.KINDS[kind]}",
                "names": self.names[kind],
                "count": count,
            }
            for kind, count in self.totals.items()
            if count
        ]
