"""Data to fix in XPM: the firm's synced clients and contacts that XPM leaves incomplete.

Every group is a live query over the client tables, never a stored list: a row leaves by
itself when a later sync brings XPM's fix across.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Firm

from .models import Client, ClientContact, Contact

PROSPECT_AGE = timedelta(days=365)


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    fix: str  # what to do in XPM
    of_contacts: bool = False


GROUPS = (
    Group(
        "no_email",
        "Clients without an email address",
        "Emails to these clients fail. Add the client’s email address in XPM.",
    ),
    Group(
        "no_contacts",
        "Clients without contacts",
        "Nobody to write to or greet. Add a contact to the client in XPM.",
    ),
    Group(
        "primary_by_rule",
        "No primary contact flagged in XPM",
        "The portal chose the primary contact by its rule (salutation, then first name). "
        "Flag the right one as primary in XPM.",
    ),
    Group(
        "contact_no_email",
        "Contacts without an email address",
        "These people cannot be emailed. Add their email address in XPM.",
        of_contacts=True,
    ),
    Group(
        "old_prospects",
        "Prospects for more than a year",
        "Still prospects a year after they arrived. Make them clients in XPM, or archive them.",
    ),
)
GROUP_KEYS = {group.key: group for group in GROUPS}


def _synced(firm: Firm) -> QuerySet[Client]:
    return Client.objects.for_firm(firm).filter(xpm_uuid__isnull=False, is_archived=False)


def clients_in(firm: Firm, key: str) -> QuerySet[Client]:
    """The firm's synced, current clients in group ``key`` (a client group), by name."""
    clients = _synced(firm)
    links = ClientContact.objects.filter(client=OuterRef("pk"))
    if key == "no_email":
        return clients.filter(email="")
    if key == "no_contacts":
        return clients.filter(~Exists(links))
    if key == "primary_by_rule":
        return clients.filter(Exists(links)).filter(~Exists(links.filter(is_xpm_primary=True)))
    if key == "old_prospects":
        return clients.filter(is_prospect=True, created_at__lt=timezone.now() - PROSPECT_AGE)
    raise KeyError(key)


def contacts_without_email(firm: Firm) -> QuerySet[Contact]:
    """XPM contacts of the firm's synced, current clients that have no email address."""
    at_current = ClientContact.objects.filter(
        contact=OuterRef("pk"), client__xpm_uuid__isnull=False, client__is_archived=False
    )
    return (
        Contact.objects.for_firm(firm)
        .filter(xpm_uuid__isnull=False, email="")
        .filter(Exists(at_current))
    )


def counts(firm: Firm) -> dict[str, int]:
    """How many rows each group has, in GROUPS order."""
    found = {}
    for group in GROUPS:
        rows = contacts_without_email(firm) if group.of_contacts else clients_in(firm, group.key)
        found[group.key] = rows.count()
    return found


def rows(firm: Firm, key: str) -> QuerySet:
    """The group's rows: contacts (with their current synced clients) or clients."""
    if GROUP_KEYS[key].of_contacts:
        links = ClientContact.objects.filter(
            client__xpm_uuid__isnull=False, client__is_archived=False
        ).select_related("client")
        return contacts_without_email(firm).prefetch_related(
            Prefetch("links", queryset=links, to_attr="current_links")
        )
    return clients_in(firm, key)


def has_any(counted: dict[str, int]) -> bool:
    return any(counted.values())
