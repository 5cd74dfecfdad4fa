"""What a parsed XPM record writes to the portal's models: the values the mirror stores and
compares, named and ordered as the field table says, cut to the columns' sizes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from clients.models import Client, ClientContact, Contact
from clients.primary import first_word

from .fields import CLIENT, CLIENT_FIELDS, CONTACT, CONTACT_FIELDS
from .parse import ClientRecord, ContactRecord


@cache
def limits() -> dict[str, dict[str, int]]:
    """The column sizes of the fields a sync writes, read from the models once."""

    def sizes(model, names: list[str]) -> dict[str, int]:
        return {name: model._meta.get_field(name).max_length or 0 for name in names}

    return {
        "client": sizes(Client, CLIENT_FIELDS),
        "contact": sizes(Contact, CONTACT_FIELDS),
        "link": sizes(ClientContact, ["position"]),
    }


def _fit(values: dict, limits: dict[str, int]) -> dict:
    """Cut text to the column sizes, so one over-long value from XPM cannot fail a run."""
    for name, limit in limits.items():
        value = values[name]
        if limit and isinstance(value, str) and len(value) > limit:
            values[name] = value[:limit]
    return values


def client_values(record: ClientRecord) -> dict:
    """The Client field values a record gives, in CLIENT_FIELDS order."""
    values = {f.name: getattr(record, f.name) for f in CLIENT}
    kind = Client.Kind.INDIVIDUAL if record.is_individual else Client.Kind.ORGANISATION
    # The plain string, not the enum member: rows are compared by hash, and members hash apart.
    values["kind"] = kind.value
    return _fit(values, limits()["client"])


def contact_values(record: ContactRecord) -> dict:
    """The Contact field values a record gives, in CONTACT_FIELDS order."""
    values = {f.name: getattr(record, f.name) for f in CONTACT}
    first = first_word(record.name)
    values["first_name"] = first
    values["last_name"] = record.name[len(first) :].strip()
    return _fit(values, limits()["contact"])


def fit_position(text: str) -> str:
    """A contact's position at a client, cut to its column."""
    return text[: limits()["link"]["position"]]


def live_contacts(record: ClientRecord) -> list[ContactRecord]:
    """The client's contacts that XPM has not deleted, each UUID once (its first listing)."""
    seen: dict[str, ContactRecord] = {}
    for contact in record.contacts:
        if not contact.is_deleted:
            seen.setdefault(contact.uuid, contact)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Link:
    """A contact's role at one client, as the sync writes it to ClientContact."""

    position: str
    is_xpm_primary: bool
    is_primary: bool

    FIELDS: ClassVar[tuple[str, ...]] = ("position", "is_xpm_primary", "is_primary")
