"""Merging a portal client with its XPM twin, and undoing it.

A merge keeps one client profile. It keeps the portal client's primary key, so everything that
points at that client stays attached, and gives it the XPM client's UUID and values (XPM is the
source of truth: the next sync would write them anyway). Everything that pointed at the XPM
row moves to it, and the XPM row goes. Contacts are merged by email, then by name: a portal
contact XPM also has gives way to XPM's; one only the portal has stays, shown as "not in XPM",
and the sync leaves it alone (xpmsync.mirror only touches links to XPM contacts).

Each merge runs in one transaction, is audited, and stores a snapshot of both sides so that it
can be undone for ``ClientMerge.UNDO_DAYS`` days.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, Firm, User

from .contacts import refresh_primary_contacts
from .duplicates import email_key, name_key
from .health import after_change
from .models import (
    Client,
    ClientContact,
    ClientMerge,
    Contact,
    DuplicateDismissal,
    DuplicatePair,
)

MERGED = AuditEvent.Action.CLIENTS_MERGED
MERGE_UNDONE = AuditEvent.Action.CLIENT_MERGE_UNDONE
DISMISSED = AuditEvent.Action.DUPLICATE_DISMISSED

# What the surviving client takes from XPM's: every field but its identity and its age.
MERGED_FIELDS = [
    f.attname
    for f in Client._meta.concrete_fields
    if f.attname not in ("id", "firm_id", "created_at")
]
# Shown and audited as the differences between the two sides.
COMPARED_FIELDS = [
    "name", "email", "phone", "website", "address", "city", "region", "postcode", "country",
    "postal_address", "kind", "is_prospect",
]  # fmt: skip
_HANDLED = (ClientContact, DuplicatePair, DuplicateDismissal, ClientMerge)


class CannotMerge(Exception):
    """The pair cannot be merged (any more); the message says why."""


class CannotUndo(Exception):
    """The merge cannot be undone; the message says why."""


def differences(client: Client, xpm_client: Client) -> list[tuple[str, Any, Any]]:
    """The compared fields whose values differ: (label, portal value, XPM value)."""
    found = []
    for name in COMPARED_FIELDS:
        mine, theirs = getattr(client, name), getattr(xpm_client, name)
        if name == "email":
            mine, theirs = mine.lower(), theirs.lower()
        if mine != theirs:
            label = getattr(Client._meta.get_field(name), "verbose_name", name)
            found.append(
                (str(label).capitalize(), getattr(client, name), getattr(xpm_client, name))
            )
    return found


def _row(instance: models.Model) -> dict[str, Any]:
    values = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def _from_row(model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    return {name: fields[name].to_python(value) for name, value in row.items() if name in fields}


def _link_row(link: ClientContact) -> dict[str, Any]:
    return {
        "id": link.pk,
        "client_id": link.client_id,
        "contact_id": link.contact_id,
        "position": link.position,
        "is_xpm_primary": link.is_xpm_primary,
        "is_primary": link.is_primary,
    }


def _references() -> list[models.ForeignObject]:
    """Foreign keys to Client from models this module does not handle itself."""
    return [
        rel.field
        for rel in Client._meta.related_objects
        if rel.many_to_one and rel.related_model not in _HANDLED
    ]


def merge_pair(pair: DuplicatePair, *, by: User, ip: str | None = None) -> ClientMerge:
    """Merge the pair's portal client into one profile with its XPM client (see the module)."""
    with transaction.atomic():
        merge = _merge(pair.firm, pair.client_id, pair.xpm_client_id, by=by, ip=ip)
    return merge


def merge_all_same(firm: Firm, *, by: User, expected: int, ip: str | None = None) -> int:
    """Merge every "same" pair in one transaction; returns how many were merged.

    ``expected`` is the count the admin confirmed: if the list changed since, nothing is done.
    A client in two "same" pairs is merged once, with its best match.
    """
    with transaction.atomic():
        pairs = list(
            DuplicatePair.objects.for_firm(firm)
            .filter(confidence=DuplicatePair.Confidence.SAME)
            .select_for_update()
            .order_by("-similarity", "id")
        )
        if len(pairs) != expected:
            raise CannotMerge(
                f"The list changed: there are now {len(pairs)} “same” pairs, not {expected}. "
                "Nothing was merged; check the list and try again."
            )
        used: set[int] = set()
        merged = 0
        for pair in pairs:
            if pair.client_id in used or pair.xpm_client_id in used:
                continue
            _merge(firm, pair.client_id, pair.xpm_client_id, by=by, ip=ip)
            used.update((pair.client_id, pair.xpm_client_id))
            merged += 1
    return merged


def _merge(
    firm: Firm, client_id: int, xpm_client_id: int, *, by: User, ip: str | None
) -> ClientMerge:
    locked = {
        c.pk: c
        for c in Client.objects.for_firm(firm)
        .select_for_update()
        .filter(pk__in=[client_id, xpm_client_id])
    }
    client, xpm_client = locked.get(client_id), locked.get(xpm_client_id)
    if client is None or xpm_client is None:
        raise CannotMerge("One of these clients no longer exists; nothing was merged.")
    if client.xpm_uuid is not None or xpm_client.xpm_uuid is None:
        raise CannotMerge("These clients were merged or changed meanwhile; nothing was merged.")

    links = list(
        ClientContact.objects.for_firm(firm)
        .filter(client_id__in=[client.pk, xpm_client.pk])
        .select_related("contact")
        .order_by("id")
    )
    mine = [link for link in links if link.client_id == client.pk]
    theirs = [link for link in links if link.client_id == xpm_client.pk]
    snapshot: dict[str, Any] = {
        "client": _row(client),
        "xpm_client": _row(xpm_client),
        "links": [_link_row(link) for link in links],
        "removed_contacts": [],
        "moved": {},
        "dismissals": [],
        "differences": [[label, str(a), str(b)] for label, a, b in differences(client, xpm_client)],
    }

    # Contacts: by email, then by name; XPM's copy wins, a portal-only contact stays.
    their_emails = {email_key(link.contact.email): link for link in theirs if link.contact.email}
    their_names = {name_key(link.contact.name): link for link in theirs}
    duplicate_links: list[ClientContact] = []
    kept: list[ClientContact] = []
    for link in mine:
        contact = link.contact
        twin = their_emails.get(email_key(contact.email)) if contact.email else None
        twin = twin or their_names.get(name_key(contact.name))
        (duplicate_links if twin is not None else kept).append(link)
    if duplicate_links:
        ClientContact.objects.filter(pk__in=[link.pk for link in duplicate_links]).delete()
        still_used = set(
            ClientContact.objects.filter(
                contact_id__in=[link.contact_id for link in duplicate_links]
            ).values_list("contact_id", flat=True)
        )
        orphans = [link.contact for link in duplicate_links if link.contact_id not in still_used]
        snapshot["removed_contacts"] = [_row(contact) for contact in orphans]
        Contact.objects.filter(pk__in=[c.pk for c in orphans]).delete()
    # One primary per client: the portal's own give way before XPM's links arrive.
    ClientContact.objects.filter(pk__in=[link.pk for link in kept]).update(
        is_primary=False, is_xpm_primary=False
    )
    ClientContact.objects.filter(pk__in=[link.pk for link in theirs]).update(client_id=client.pk)

    # Whatever else pointed at XPM's row now points at the surviving one.
    for fk in _references():
        rows = fk.model._base_manager.filter(**{fk.attname: xpm_client.pk})
        ids = list(rows.values_list("pk", flat=True))
        if ids:
            fk.model._base_manager.filter(pk__in=ids).update(**{fk.attname: client.pk})
            snapshot["moved"][f"{fk.model._meta.label}.{fk.attname}"] = ids
    dismissals = DuplicateDismissal.objects.filter(xpm_client_id=xpm_client.pk)
    snapshot["dismissals"] = list(dismissals.values_list("pk", flat=True))
    dismissals.update(xpm_client_id=client.pk)
    DuplicatePair.objects.filter(client_id=client.pk).delete()
    # Other portal clients that looked like XPM's row now look like the surviving one.
    DuplicatePair.objects.filter(xpm_client_id=xpm_client.pk).exclude(client_id=client.pk).update(
        xpm_client_id=client.pk
    )

    old_name, source_label = client.name, client.get_source_display()
    xpm_client.delete()
    for name in MERGED_FIELDS:
        setattr(client, name, getattr(xpm_client, name))
    client.updated_at = timezone.now()
    client.save(update_fields=MERGED_FIELDS)
    if not theirs:
        refresh_primary_contacts(firm, [client.pk])

    merge = ClientMerge.objects.create(
        firm=firm,
        client=client,
        client_name=old_name,
        xpm_client_name=client.name,
        snapshot=snapshot,
        merged_by=by,
    )
    changes = "; ".join(
        f"{label}: {a or '(empty)'} → {b or '(empty)'}" for label, a, b in snapshot["differences"]
    )
    audit.record(
        firm,
        MERGED,
        actor=by,
        ip_address=ip,
        detail=f"“{old_name}” ({source_label}) merged with XPM’s “{client.name}”, kept as "
        f"client {client.pk} with XPM’s values (merge {merge.pk}). {changes or 'No differences.'}",
    )
    return merge


def undo_merge(merge: ClientMerge, *, by: User, ip: str | None = None) -> Client:
    """Split a merged client back into the portal's and XPM's: returns the XPM client.

    The portal client gets back its own values and contacts (those the merge removed are made
    again); XPM's client is made again with XPM's current values and takes back XPM's contacts
    and whatever pointed at it before.
    """
    with transaction.atomic():
        merge = ClientMerge.objects.select_for_update().get(pk=merge.pk)
        if not merge.can_undo:
            if merge.undone_at:
                raise CannotUndo("This merge was already undone.")
            raise CannotUndo(f"Merges can be undone for {ClientMerge.UNDO_DAYS} days only.")
        firm = merge.firm
        client = Client.objects.select_for_update().get(pk=merge.client_id)
        snapshot = merge.snapshot
        if client.xpm_uuid is None:
            raise CannotUndo("This client is no longer linked to XPM, so it cannot be split.")

        xpm_values = {name: getattr(client, name) for name in MERGED_FIELDS}
        mine = _from_row(Client, snapshot["client"])
        for name in MERGED_FIELDS:
            setattr(client, name, mine[name])
        client.save(update_fields=MERGED_FIELDS)

        theirs = _from_row(Client, snapshot["xpm_client"])
        xpm_pk = theirs["id"]
        if Client.objects.filter(pk=xpm_pk).exists():
            xpm_pk = None
        xpm_client = Client.objects.create(
            id=xpm_pk, firm=firm, created_at=theirs["created_at"], **xpm_values
        )

        ClientContact.objects.for_firm(firm).filter(
            client_id=client.pk, contact__xpm_uuid__isnull=False
        ).update(client_id=xpm_client.pk)
        # The portal's contacts the merge removed, back as they were.
        restored: dict[int, int] = {}
        for row in snapshot["removed_contacts"]:
            values = _from_row(Contact, row)
            old_pk = values.pop("id")
            values.pop("firm_id", None)
            free = not Contact.objects.filter(pk=old_pk).exists()
            contact = Contact.objects.create(id=old_pk if free else None, firm=firm, **values)
            restored[old_pk] = contact.pk
        linked = set(
            ClientContact.objects.filter(client_id=client.pk).values_list("contact_id", flat=True)
        )
        for row in snapshot["links"]:
            if row["client_id"] != client.pk:
                continue
            contact_id = restored.get(row["contact_id"], row["contact_id"])
            if contact_id in linked or not Contact.objects.filter(pk=contact_id).exists():
                continue
            ClientContact.objects.create(
                firm=firm, client=client, contact_id=contact_id, position=row["position"]
            )
        ClientContact.objects.filter(client_id=client.pk).update(is_primary=False)
        refresh_primary_contacts(firm, [client.pk])

        for key, ids in snapshot["moved"].items():
            label, attname = key.rsplit(".", 1)
            model = next(fk.model for fk in _references() if fk.model._meta.label == label)
            model._base_manager.filter(pk__in=ids, **{attname: client.pk}).update(
                **{attname: xpm_client.pk}
            )
        DuplicateDismissal.objects.filter(
            pk__in=snapshot["dismissals"], xpm_client_id=client.pk
        ).update(xpm_client_id=xpm_client.pk)

        merge.undone_at = timezone.now()
        merge.save(update_fields=["undone_at"])
        audit.record(
            firm,
            MERGE_UNDONE,
            actor=by,
            ip_address=ip,
            detail=f"Merge {merge.pk} undone: “{client.name}” (client {client.pk}) and XPM’s "
            f"“{xpm_client.name}” (client {xpm_client.pk}) are separate again.",
        )
    after_change(firm)
    return xpm_client


def recent_merges(firm: Firm) -> models.QuerySet[ClientMerge]:
    """The firm's merges that can still be undone, newest first."""
    since = timezone.now() - timedelta(days=ClientMerge.UNDO_DAYS)
    return (
        ClientMerge.objects.for_firm(firm)
        .filter(undone_at__isnull=True, merged_at__gte=since)
        .select_related("client", "merged_by")
    )


def dismiss_pair(pair: DuplicatePair, *, by: User, ip: str | None = None) -> None:
    """ "Not the same": remember the decision, so the pair never comes back; audited."""
    with transaction.atomic():
        DuplicateDismissal.objects.get_or_create(
            firm=pair.firm,
            client_id=pair.client_id,
            xpm_client_id=pair.xpm_client_id,
            defaults={"decided_by": by},
        )
        DuplicatePair.objects.filter(pk=pair.pk).delete()
        audit.record(
            pair.firm,
            DISMISSED,
            actor=by,
            ip_address=ip,
            detail=f"“{pair.client.name}” (client {pair.client_id}) is not XPM’s "
            f"“{pair.xpm_client.name}” (client {pair.xpm_client_id}).",
        )
