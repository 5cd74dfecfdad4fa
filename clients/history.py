"""Each client's timeline: what changed, from what to what, when and by whom or what.

XPM syncs write their changes in bulk (xpmsync.timeline); edits in the portal and CSV imports
go through ``record_edit`` and ``record_added`` here. ``timeline`` reads a client's entries,
its contacts' included, in words; ``prune`` keeps TIMELINE_RETENTION_DAYS of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Firm, User

from .models import Change, Client, Contact

# The client fields a person can edit in the portal, compared before and after a save.
EDITABLE = [
    "name", "kind", "email", "phone", "website", "address", "city", "region", "postcode",
    "country", "postal_address", "postal_city", "postal_region", "postal_postcode",
    "postal_country", "is_prospect",
]  # fmt: skip


def snapshot(client: Client) -> dict:
    """The client's editable values now, to compare with after an edit."""
    return {name: getattr(client, name) for name in EDITABLE}


def record_edit(client: Client, before: dict, *, by: User) -> Change | None:
    """Put a portal edit on the timeline: the fields that changed since ``before``."""
    changes = {
        name: [old, getattr(client, name)]
        for name, old in before.items()
        if old != getattr(client, name)
    }
    if not changes:
        return None
    return Change.objects.create(
        firm_id=client.firm_id,
        client=client,
        action=Change.Action.UPDATED,
        source=Change.Source.MANUAL,
        actor=by,
        changes=changes,
    )


def record_archived(client: Client, *, by: User) -> Change:
    action = Change.Action.ARCHIVED if client.is_archived else Change.Action.RESTORED
    return Change.objects.create(
        firm_id=client.firm_id,
        client=client,
        action=action,
        source=Change.Source.MANUAL,
        actor=by,
    )


def record_added(
    firm: Firm,
    *,
    client_ids: Iterable[int] = (),
    contact_ids: Iterable[int] = (),
    source: str,
    by: User | None,
) -> None:
    """Put clients and contacts added by hand or by a CSV import on the timeline, in bulk."""
    now = timezone.now()
    rows = [
        Change(firm=firm, client_id=pk, action=Change.Action.CREATED, source=source, actor=by)
        for pk in client_ids
    ] + [
        Change(firm=firm, contact_id=pk, action=Change.Action.CREATED, source=source, actor=by)
        for pk in contact_ids
    ]
    for row in rows:
        row.changed_at = now
    Change.objects.bulk_create(rows)


@dataclass(frozen=True)
class Entry:
    """One timeline entry as a page shows it."""

    at: datetime
    subject: str  # "Client" or "Contact Jo Smith"
    action: str
    by: str  # "XPM sync", "Priya Raman", "CSV import by Priya Raman"
    lines: list[str]  # "Email: a@x.example → b@x.example"
    sync_run_id: int | None


def timeline(client: Client, *, limit: int = 200) -> list[Entry]:
    """The client's entries and its contacts', newest first.

    An XPM sync writes no row when it adds a client or contact: their arrival is read from
    the record's own creation time (portal and CSV additions have rows, with who made them).
    """
    contacts = list(Contact.objects.filter(links__client=client).distinct())
    changes = (
        Change.objects.for_firm(client.firm)
        .filter(Q(client=client) | Q(contact_id__in=[c.pk for c in contacts]))
        .select_related("actor", "contact")[:limit]
    )
    entries = [describe(change) for change in changes]
    if client.xpm_uuid and not any(e.action == "Added" and e.subject == "Client" for e in entries):
        entries.append(_arrival(client.created_at, "Client"))
    added = {e.subject for e in entries if e.action == "Added"}
    entries += [
        _arrival(contact.created_at, f"Contact {contact.name}")
        for contact in contacts
        if contact.xpm_uuid and f"Contact {contact.name}" not in added
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)[:limit]


def _arrival(at: datetime, subject: str) -> Entry:
    """A record that arrived from XPM, as the timeline shows it."""
    action = Change.Action.CREATED.label
    return Entry(
        at=at, subject=subject, action=str(action), by="XPM sync", lines=[], sync_run_id=None
    )


def run_changes(firm: Firm, sync_run_id: int):
    """What one sync run changed, for its page."""
    return (
        Change.objects.for_firm(firm)
        .filter(sync_run_id=sync_run_id)
        .select_related("client", "contact")
        .order_by("id")
    )


def describe(change: Change) -> Entry:
    subject = f"Contact {change.contact.name}" if change.contact_id and change.contact else "Client"
    model = Contact if change.contact_id else Client
    return Entry(
        at=change.changed_at,
        subject=subject,
        action=change.get_action_display(),
        by=_by(change),
        lines=[
            f"{_label(model, name)}: {_shown(old)} → {_shown(new)}"
            for name, (old, new) in change.changes.items()
        ],
        sync_run_id=change.sync_run_id,
    )


def _by(change: Change) -> str:
    actor = (change.actor.get_full_name() or change.actor.email) if change.actor else ""
    if change.source == Change.Source.CSV:
        return f"CSV import by {actor}" if actor else "CSV import"
    if change.source == Change.Source.MANUAL:
        return actor or "Someone in the portal"
    return "XPM sync"


def _label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name).capitalize()
    except Exception:  # a field since removed: the stored name says enough
        return name.replace("_", " ").capitalize()


def _shown(value) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    text = " ".join(str(value).split()) if value not in (None, "") else ""
    return text or "(empty)"


def prune(*, now: datetime | None = None) -> int:
    """Delete timeline entries older than TIMELINE_RETENTION_DAYS; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TIMELINE_RETENTION_DAYS)
    deleted, _ = Change.objects.filter(changed_at__lt=cutoff).delete()
    return deleted
