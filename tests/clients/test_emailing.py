"""Emails to clients: who they come from, and advice that fits the reader's role."""

from email import message_from_bytes, policy

from django.core import mail

from accounts.models import User
from clients.emailing import email_client
from clients.models import Client
from tests.factories import add_contact, make_client, make_user
from tests.xpmsync.factories import make_connection


def _from_header(message) -> tuple[str, str]:
    """The From display name and address as a mail client reads them off the wire."""
    parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    (address,) = parsed["From"].addresses
    return address.display_name, address.addr_spec


def test_an_email_to_a_client_comes_from_the_sender_and_firm_via_the_portal(
    bob_client, bob, firm_a, settings
):
    settings.DEFAULT_FROM_EMAIL = "The Gap Portal <no-reply@portal.example.com>"
    client = make_client(firm_a, "Harbourline", email="accounts@harbourline.example.com")
    page = bob_client.get(f"/clients/{client.pk}/email/").content.decode()
    assert "From: <strong>Bob Example, Alpha Accounting</strong>" in page
    bob_client.post(f"/clients/{client.pk}/email/", {"subject": "Hi", "message": "Hi"})
    (sent,) = mail.outbox
    assert _from_header(sent) == ("Bob Example, Alpha Accounting", "no-reply@portal.example.com")
    assert sent.reply_to == [bob.email]


def test_a_display_name_with_commas_quotes_and_accents_survives_the_from_header(firm_a):
    firm_a.name = 'Smith, Jones & "Co"'
    firm_a.save()
    sender = make_user(firm_a, "zoe@alpha.example.com", first_name="Zoë", last_name="O'Brien")
    client = make_client(firm_a, "Harbourline", email="accounts@harbourline.example.com")
    email_client(client, sender=sender, subject="Hi", message="Hi")
    name, address = _from_header(mail.outbox[0])
    assert name == 'Zoë O\'Brien, Smith, Jones & "Co"'
    assert address == "no-reply@gapportal.local"
    assert mail.outbox[0].to == ["accounts@harbourline.example.com"]


def test_staff_are_told_to_ask_their_admin_by_name_not_to_press_sync_now(
    verified, alice, bob, firm_a
):
    make_connection(firm_a, alice)
    client = make_client(firm_a, "No Email Pty Ltd", source=Client.Source.XPM)
    page = verified(bob).get(f"/clients/{client.pk}/email/").content.decode()
    assert "ask your admin (Alice Example) to press Sync Now" in page
    assert "Manage Clients" not in page.split("<main", 1)[1]


def test_staff_in_a_firm_with_several_admins_are_told_their_names(verified, alice, bob, firm_a):
    make_user(firm_a, "priya@alpha.example.com", role=User.Role.ADMIN, first_name="Priya")
    make_user(firm_a, "gone@alpha.example.com", role=User.Role.ADMIN, is_active=False)
    make_connection(firm_a, alice)
    client = make_client(firm_a, "Broken Ltd", source=Client.Source.XPM)
    add_contact(client, "Ann Smith", email="ann@example.com\nBcc: x@example.net")
    page = verified(bob).get(f"/clients/{client.pk}/email/").content.decode()
    assert "is not valid" in page
    assert "ask an admin (Alice Example or Priya Example) to press Sync Now" in page


def test_a_synced_client_of_a_disconnected_firm_is_fixed_in_the_portal(alice_client, firm_a):
    client = make_client(firm_a, "Formerly Synced", source=Client.Source.XPM)
    page = alice_client.get(f"/clients/{client.pk}/email/").content.decode()
    assert "Edit the client to add one" in page
    assert "Sync Now" not in page
