"""Emailing a client's primary contact, signed with the sender's personal settings."""

from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email

from accounts.models import User

from .guidance import after_changing_in_xpm
from .models import Client, Contact


class NoEmailAddress(Exception):
    """The client has nowhere to send to; the message says how to fix it."""


def recipient(client: Client, *, reader: User) -> tuple[Contact | None, str]:
    """The primary contact (if any) and the address to write to, or NoEmailAddress.

    The error's advice fits ``reader``: only an admin can reach Sync Now.
    """
    link = client.links.filter(is_primary=True).select_related("contact").first()
    contact = link.contact if link else None
    address = (contact.email if contact else "") or client.email
    if address:
        _check_address(client, address, reader=reader)
        return contact, address
    if client.is_managed_by_xpm:
        raise NoEmailAddress(
            f"{client.name} has no email address. Add one to the client (or its primary contact) "
            f"in Xero Practice Manager. {after_changing_in_xpm(reader)}"
        )
    raise NoEmailAddress(
        f"{client.name} has no email address. Edit the client to add one, then try again."
    )


def _check_address(client: Client, address: str, *, reader: User) -> None:
    # Addresses come from XPM or a CSV file too; one with a line break would fail in the mail
    # library, so it is reported like a missing one.
    try:
        validate_email(address)
    except ValidationError:
        shown = " ".join(address.split())
        fix = (
            f"Correct it in Xero Practice Manager. {after_changing_in_xpm(reader)}"
            if client.is_managed_by_xpm
            else "Edit the client to correct it, then try again."
        )
        raise NoEmailAddress(
            f"{client.name}'s email address “{shown}” is not valid. {fix}"
        ) from None


def sender_address(sender: User) -> str:
    """From: the sender and their firm by name ("Priya Raman, Demo Accounting"), at the
    portal's own address, which is allowed to send for its domain; replies go to the sender.

    ``Address`` quotes a display name with commas or quotes, and the mail library encodes one
    that is not ASCII.
    """
    _name, portal_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    person = sender.get_full_name() or sender.email
    display_name = f"{person}, {sender.firm.name}" if sender.firm else person
    return str(Address(display_name=" ".join(display_name.split()), addr_spec=portal_address))


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
    _contact, address = recipient(client, reader=sender)
    # The form refuses line breaks; folding them here keeps any other caller from a header
    # injection or a crash.
    subject = " ".join(subject.split())
    EmailMessage(
        subject=subject,
        body=message,
        from_email=sender_address(sender),
        to=[address],
        reply_to=[sender.email],
    ).send()
    return address
