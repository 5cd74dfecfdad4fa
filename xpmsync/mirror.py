"""Making the portal's copy of a firm's XPM clients, contacts and links mirror a parsed list.

The list is applied a batch of clients at a time inside one transaction, with a bounded number
of queries per batch: all or nothing, and nothing written when nothing changed. Matching is on
XPM UUIDs only. A list that would wipe the firm (empty, or archiving more than a set share of its
synced clients) raises HeldForReview, which rolls everything back.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.db import OperationalError, transaction
from django.utils import timezone

from accounts.models import Firm
from clients.models import Client, ClientContact, Contact
from clients.primary import Candidate, choose_primary

from . import bulk, run_limits, safety
from .fields import CLIENT_FIELDS, CONTACT_FIELDS
from .models import SyncRun
from .parse import ClientRecord, ContactRecord
from .summary import Warnings
from .timeline import Timeline
from .values import Link, client_values, contact_values, fit_position, live_contacts

# Clients applied together: each batch costs a handful of queries and holds little memory.
BATCH_SIZE = 2000
# Rows created in one run past which the planner's statistics are refreshed.
ANALYZE_AFTER = 1000


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
    on_batch: Callable[[int], None] | None = None,
    whole_list: bool = True,
    run: SyncRun | None = None,
    timeline: bool = True,
    until: float | None = None,
) -> Applied:
    """Make the firm's XPM clients, contacts and links mirror ``records``, all or nothing.

    ``records`` is consumed as a stream, a batch of clients at a time, inside one transaction:
    memory holds one batch, the UUIDs seen so far and a compact index of the rows the portal
    already holds (ids and hashes of their values), never the whole list.

    A ``whole_list`` is the practice: clients it no longer has are archived, and with
    ``check_safety`` a list that would wipe the firm raises HeldForReview, which rolls
    everything back. Otherwise ``records`` are only the clients XPM modified (a quick sync):
    they are upserted, nothing is archived for being missing, and the portal's rows are read
    for each batch's records alone. With ``timeline`` every change is recorded (run
    ``run``). ``on_batch`` hears how many clients have been applied after each batch.

    Past ``until`` (``time.monotonic()``) it stops and keeps nothing: it looks before each
    batch and before it commits, and no statement may run past it. It commits only while the
    firm is connected and ``run`` still holds it (run_limits.still_ours).
    """
    try:
        with transaction.atomic():
            run_limits.stop_statements_at(until)
            changes = Timeline(firm, run_id=run.pk if run else None, enabled=timeline)
            mirror = _Mirror(firm, changes, whole_list=whole_list)
            applied = 0
            for batch in itertools.batched(records, BATCH_SIZE):
                run_limits.check(until)
                mirror.apply(batch)
                applied += len(batch)
                if on_batch is not None:
                    on_batch(applied)
            if whole_list:
                if check_safety:
                    mirror.check_safety()
                mirror.archive_unlisted()
            run_limits.check(until)
            run_limits.still_ours(connection_id, run)
    except OperationalError as error:  # a statement cancelled at ``until``
        run_limits.check(None if until is None else until - 1, cause=error)
        raise
    counts = mirror.counts
    if counts["clients_created"] + counts["contacts_created"] >= ANALYZE_AFTER:
        bulk.settle(Client, Contact, ClientContact)
    return Applied(counts=counts, warnings=mirror.warnings.as_list())


def _xpm_links(links):
    """Links to XPM's contacts only: the portal's own contacts kept on a client by a merge
    ("not in XPM") are never updated or removed by a sync."""
    return links.filter(contact__xpm_uuid__isnull=False)


def _portal_only(links):
    return links.filter(contact__xpm_uuid__isnull=True, is_primary=True)


def _stream(rows, *names: str):
    """``rows`` as tuples of the fields ``names``, fetched in chunks rather than all at once."""
    return rows.order_by().values_list(*names).iterator(chunk_size=5000)


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

    def __init__(self, firm: Firm, timeline: Timeline, *, whole_list: bool = True) -> None:
        self.firm = firm
        self.timeline = timeline
        self.whole_list = whole_list
        self.now = timezone.now()
        self.counts = dict.fromkeys(SyncRun.COUNTS, 0)
        self.warnings = Warnings()
        self.listed: set[str] = set()
        self.listed_active = 0
        self.contact_ids: dict[str, int] = {}
        self.clients: dict[str, tuple[int, bool, str, int]] = {}
        self.contacts: dict[str, tuple[int, int]] = {}
        self.links: dict[int, dict[int, tuple[int, Link]]] = defaultdict(dict)
        if whole_list:
            self._hold(
                Client.objects.for_firm(firm).filter(xpm_uuid__isnull=False),
                Contact.objects.for_firm(firm).filter(xpm_uuid__isnull=False),
                _xpm_links(
                    ClientContact.objects.for_firm(firm).filter(client__xpm_uuid__isnull=False)
                ),
            )

    def _hold(self, clients, contacts, links) -> None:
        """Remember what the portal holds of these rows: their ids and hashes of their values."""
        self.clients.update(
            (str(uuid), (pk, is_archived, source, hash(tuple(values))))
            for uuid, pk, is_archived, source, *values in _stream(
                clients, "xpm_uuid", "id", "is_archived", "source", *CLIENT_FIELDS
            )
        )
        self.contacts.update(
            (str(uuid), (pk, hash(tuple(values))))
            for uuid, pk, *values in _stream(contacts, "xpm_uuid", "id", *CONTACT_FIELDS)
        )
        for pk, client_id, contact_id, *link in _stream(
            links, "id", "client_id", "contact_id", *Link.FIELDS
        ):
            self.links[client_id][contact_id] = (pk, Link(*link))

    def _hold_batch(self, records: list[ClientRecord]) -> None:
        """For a list of changes only: read what the portal holds of this batch's records."""
        uuids = [record.uuid for record in records]
        known = self.contacts.keys() | self.contact_ids.keys()
        contact_uuids = {c.uuid for record in records for c in record.contacts} - known
        self._hold(
            Client.objects.for_firm(self.firm).filter(xpm_uuid__in=uuids),
            Contact.objects.for_firm(self.firm).filter(xpm_uuid__in=contact_uuids),
            _xpm_links(
                ClientContact.objects.for_firm(self.firm).filter(client__xpm_uuid__in=uuids)
            ),
        )

    def apply(self, batch: Sequence[ClientRecord]) -> None:
        records = []
        for record in batch:  # a UUID listed twice counts once: its first listing
            if record.uuid not in self.listed:
                self.listed.add(record.uuid)
                records.append(record)
        if not self.whole_list:
            self._hold_batch(records)
        client_ids = self._apply_clients(records)
        active = [record for record in records if record.is_active]
        self.listed_active += len(active)
        contacts = {record.uuid: live_contacts(record) for record in active}
        self._apply_contacts(contacts)
        self._apply_links(contacts, client_ids)
        self.warnings.add(active, contacts)
        self.timeline.flush()

    def _apply_clients(self, records: list[ClientRecord]) -> dict[str, int]:
        """Write the batch's clients; return every listed client's id by UUID."""
        to_create, to_update, ids = [], [], {}
        changed: dict[int, dict] = {}
        archived: dict[bool, list[int]] = {True: [], False: []}
        counts, now = self.counts, self.now
        for record in records:
            values = client_values(record)
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
                changed[pk] = values
            if archived_changed:
                counts["clients_restored" if record.is_active else "clients_archived"] += 1
                archived[record.is_active].append(pk)
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
        self.timeline.updated_clients(changed)  # before the update overwrites the old values
        self.timeline.archived(archived[False])
        self.timeline.archived(archived[True], restored=True)
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
        to_create, to_update, changed = [], [], {}
        for uuid, record in wanted.items():
            values = contact_values(record)
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
                changed[pk] = values
        new_ids = bulk.insert(Contact, to_create)
        self.timeline.updated_contacts(changed)
        bulk.update(Contact, to_update, [*CONTACT_FIELDS, "updated_at"])
        self.counts["contacts_created"] += len(to_create)
        self.counts["contacts_updated"] += len(to_update)
        self.contact_ids.update(
            (row["xpm_uuid"], pk) for row, pk in zip(to_create, new_ids, strict=True)
        )

    def _wanted_links(self, contacts, client_ids) -> dict[tuple[int, int], Link]:
        """Every link XPM describes, with the primary contact chosen in memory by the rule."""
        wanted: dict[tuple[int, int], Link] = {}
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
                wanted[(client_id, self.contact_ids[contact.uuid])] = Link(
                    position=fit_position(contact.position),
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
        to_create: list[dict] = []
        to_update: list[dict] = []
        losing_primary: list[int] = []
        for key, want in wanted.items():
            pk, link = existing.get(key, (0, None))
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
        to_delete: list[int] = [pk for key, (pk, _link) in existing.items() if key not in wanted]
        # Deletions and lost primaries first: one primary per client is a database constraint.
        if to_delete:
            ClientContact.objects.filter(pk__in=to_delete).delete()
        if losing_primary:
            ClientContact.objects.filter(pk__in=losing_primary).update(is_primary=False)
        # A contact only the portal has (kept by a merge) is primary until XPM lists one.
        held = {client_ids[uuid] for uuid in contacts if uuid in self.clients}
        gaining: set[int] = {row["client_id"] for row in to_create if row["is_primary"]} & held
        if gaining:
            _portal_only(ClientContact.objects.filter(client_id__in=gaining)).update(
                is_primary=False
            )
        bulk.update(ClientContact, to_update, Link.FIELDS)
        bulk.insert(ClientContact, to_create, ids=False)
        self.counts["contacts_unlinked"] += len(to_delete)

    def _unlisted(self) -> list[int]:
        return [
            pk
            for uuid, (pk, is_archived, _source, _digest) in self.clients.items()
            if uuid not in self.listed and not is_archived
        ]

    def check_safety(self) -> None:
        """Refuse a list that would wipe the firm (see ``safety``)."""
        synced = sum(1 for _pk, is_archived, *_ in self.clients.values() if not is_archived)
        would_archive = self.counts["clients_archived"] + len(self._unlisted())
        safety.check(listed=self.listed_active, synced=synced, would_archive=would_archive)

    def archive_unlisted(self) -> None:
        """Archive the XPM clients the list no longer has (XPM deleted them)."""
        gone = self._unlisted()
        for start in range(0, len(gone), BATCH_SIZE):
            Client.objects.filter(pk__in=gone[start : start + BATCH_SIZE]).update(
                is_archived=True, updated_at=self.now, last_synced_at=self.now
            )
        self.counts["clients_archived"] += len(gone)
        self.timeline.archived(gone)
        self.timeline.flush()
