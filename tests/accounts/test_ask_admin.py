"""Wherever the portal sends someone to a firm admin, it names the admins they can ask."""

from django.core import mail
from django.test import Client as HttpClient

from accounts.models import User
from gapportal.mail import send_templated_email
from tests.factories import PASSWORD, make_user
from tests.totp import make_device


def _page(http, path: str) -> str:
    return " ".join(http.get(path).content.decode().split())


def test_the_code_page_names_nobody_to_someone_who_has_only_the_password(bob, alice):
    """Names (or an admin's email) would help whoever guessed the password talk an admin
    into resetting the MFA that stops them."""
    make_device(bob)
    http = HttpClient()
    http.post("/accounts/login/", {"username": bob.email, "password": PASSWORD})
    page = _page(http, "/accounts/login/code/")
    assert "Ask a firm admin to reset your MFA" in page
    assert "Alice" not in page and alice.email not in page


def test_the_help_page_names_the_firms_admins(bob, alice, firm_a, verified):
    make_user(firm_a, "priya@alpha.example.com", role=User.Role.ADMIN, first_name="Priya")
    page = _page(verified(bob), "/help/")
    assert "Ask an admin (Alice Example or Priya Example) to reset your MFA" in page


def test_a_security_email_names_the_admin_to_tell_and_never_the_reader(bob, alice):
    send_templated_email("password_changed", [bob.email], {"user": bob})
    send_templated_email("password_changed", [alice.email], {"user": alice})
    to_bob, to_alice = (" ".join(m.body.split()) for m in mail.outbox)
    assert "tell your admin (Alice Example)." in to_bob
    assert "tell a firm admin." in to_alice  # the firm's only admin is the reader
