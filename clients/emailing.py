"""Emailing a client's primary contact, signed with the sender's personal settings."""

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email

from accounts.models import User

from .models import Client, Contact


class NoEmailAddress(Exception):
    """The client has nowhere to send to; the message says how to fix it."""


def recipient(client: Client) -> tuple[Contact | None, str]:
    """The primary contact (if any) and the address to write to, or NoEmailAddress."""
    link = client.links.filter(is_primary=True).select_related("contact").first()
    contact = link.contact if link else None
    address = (contact.email if contact else "") or client.email
    if address:
        _check_address(client, address)
        return contact, address
    if client.is_from_xpm:
        raise NoEmailAddress(
            f"{client.name} has no email address. Add one to the client (or its primary contact) "
            "in Xero Practice Manager, then press Sync Now in Manage Clients > Xero Sync."
        )
    raise NoEmailAddress(
        f"{client.name} has no email address. Edit the client to add one, then try again."
    )


def _check_address(client: Client, address: str) -> None:
    # Addresses come from XPM or a CSV file too; one with a line break would fail in the mail
    # library, so it is reported like a missing one.
    try:
        validate_email(address)
    except ValidationError:
        where = "in Xero Practice Manager, then press Sync Now" if client.is_from_xpm else "here"
        raise NoEmailAddress(
            f"{client.name}'s email address “{' '.join(address.split())}” is not valid. "
            f"Correct it {where}, then try again."
        ) from None


def draft_message(contact: Contact | None, sender: User) -> str:
    """The opening and closing of the email, from the sender's greeting, sign-off and signature."""
    name = contact.greeting_name if contact else ""
    opening = f"{sender.greeting or 'Hi'} {name}".strip() + ","
    closing = "\n".join(
        part for part in (sender.sign_off or "Kind regards", sender.email_signature) if part
    )
    return f"{opening}\n\n\n\n{closing}\n"


def email_client(client: Client, *, sender: User, subject: str, message: str) -> str:
    """Send the message to the client's primary contact; returns the address used."""
    _contact, address = recipient(client)
    # The form refuses line breaks; folding them here keeps any other caller from a header
    # injection or a crash.
    subject = " ".join(subject.split())
    EmailMessage(subject=subject, body=message, to=[address], reply_to=[sender.email]).send()
    return address
