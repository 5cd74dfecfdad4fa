"""Plain factory functions for test data."""

import itertools

from accounts.models import Firm, User
from clients.models import Client

PASSWORD = "correct-horse-battery-staple"

_sequence = itertools.count(1)


def make_firm(name: str | None = None, **fields) -> Firm:
    return Firm.objects.create(name=name or f"Firm {next(_sequence)}", **fields)


def make_user(firm: Firm, email: str | None = None, *, role=User.Role.USER, **fields) -> User:
    email = email or f"user{next(_sequence)}@example.com"
    fields.setdefault("first_name", email.split("@")[0].capitalize())
    fields.setdefault("last_name", "Example")
    return User.objects.create_user(email, PASSWORD, firm=firm, role=role, **fields)


def make_client(firm: Firm, name: str | None = None, **fields) -> Client:
    return Client.objects.create(firm=firm, name=name or f"Client {next(_sequence)}", **fields)


def add_contact(client: Client, name: str, *, position: str = "", is_xpm_primary=False, **fields):
    """A contact linked to ``client``, with the primary contact re-chosen."""
    from clients.contacts import refresh_primary_contacts
    from clients.models import ClientContact, Contact

    fields.setdefault("first_name", name.split()[0])
    contact = Contact.objects.create(firm=client.firm, name=name, **fields)
    ClientContact.objects.create(
        firm=client.firm,
        client=client,
        contact=contact,
        position=position,
        is_xpm_primary=is_xpm_primary,
    )
    refresh_primary_contacts(client.firm, [client.pk])
    return contact


def make_operator(email: str = "ops@gapportal.example.com") -> tuple[User, str]:
    """A platform operator (Django admin, no firm) and their password."""
    password = "operator-pass-123456"
    return User.objects.create_superuser(email, password), password
