"""Joining a firm from the invitation: MFA named up front, signed in after the first password."""

import re

from django.contrib.auth import SESSION_KEY
from django.core import mail

from accounts.models import AuditEvent, User
from accounts.users import invitation_url
from tests.factories import PASSWORD
from tests.totp import make_device
from tests.xpmsync.factories import make_connection

NEW_USER = {"first_name": "Dana", "last_name": "Scully", "email": "dana@alpha.example.com"}
NEW_PASSWORD = "dana-chooses-a-long-one"


def _invite(alice_client) -> tuple[User, str]:
    alice_client.post("/accounts/users/add/", {**NEW_USER, "role": "user", "is_active": "on"})
    dana = User.objects.get(email=NEW_USER["email"])
    (invitation,) = [m for m in mail.outbox if m.to == [dana.email]]
    return dana, invitation.body


def _accept(client, body: str, password: str = NEW_PASSWORD):
    path = re.search(r"https://portal\.example\.com(/accounts/invitation/\S+/)", body).group(1)
    form_url = client.get(path)["Location"]
    return client.post(form_url, {"new_password1": password, "new_password2": password}), path


def test_the_invitation_of_a_firm_that_requires_mfa_says_so_and_why(verified, alice, firm_a):
    make_connection(firm_a, alice)
    _dana, body = _invite(verified(alice))
    sentence = " ".join(body.split())
    assert (
        "Alpha Accounting requires multi-factor authentication (MFA) because it is connected to "
        "Xero Practice Manager, which Xero requires to keep client data safe, so right after "
        "choosing your password you will set up a second factor: an authenticator app on your "
        "phone, or a passkey."
    ) in sentence


def test_the_invitation_of_a_firm_without_mfa_does_not_mention_it(alice_client):
    _dana, body = _invite(alice_client)
    assert "multi-factor" not in body


def test_the_first_password_signs_the_user_in_without_an_alarm(alice_client, client):
    dana, body = _invite(alice_client)
    mail.outbox.clear()
    response, _path = _accept(client, body)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(dana.pk)
    assert client.get("/clients/").status_code == 200
    assert mail.outbox == []  # no "your password was changed — if this wasn't you"
    assert AuditEvent.objects.filter(action="login", actor=dana).exists()
    assert AuditEvent.objects.filter(
        action="password_changed", actor=dana, detail="First password, from the invitation"
    ).exists()


def test_in_a_firm_that_requires_mfa_the_new_user_goes_straight_to_configure_mfa(
    verified, alice, firm_a, client
):
    make_connection(firm_a, alice)
    _dana, body = _invite(verified(alice))
    response, _path = _accept(client, body)
    assert response["Location"] == "/accounts/settings/mfa/"
    # Confined there by the middleware, as at any login.
    assert client.get("/clients/")["Location"].startswith("/accounts/settings/mfa/")


def test_the_login_from_an_invitation_rotates_the_session(alice_client, client):
    _dana, body = _invite(alice_client)
    path = re.search(r"https://portal\.example\.com(/accounts/invitation/\S+/)", body).group(1)
    form_url = client.get(path)["Location"]
    before = client.session.session_key
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert client.session.session_key != before


def test_the_invitation_link_works_once(alice_client, client):
    _dana, body = _invite(alice_client)
    _response, path = _accept(client, body)
    client.post("/accounts/logout/")
    again = client.get(path, follow=True)
    assert b"This link has expired" in again.content


def test_a_user_who_already_has_mfa_still_meets_the_code_step(alice_client, client):
    dana, body = _invite(alice_client)
    make_device(dana)
    response, _path = _accept(client, body)
    assert response["Location"] == "/accounts/login/code/"
    assert client.get("/clients/")["Location"].startswith("/accounts/login/code/")


def test_a_link_used_by_someone_who_already_has_a_password_is_a_reset(client, bob):
    path = invitation_url(bob).removeprefix("https://portal.example.com")
    form_url = client.get(path)["Location"]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == "/accounts/password-reset/complete/"
    assert SESSION_KEY not in client.session
    assert [m.to for m in mail.outbox] == [[bob.email]]  # the alarm, as for any reset
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD) and not bob.check_password(PASSWORD)


def test_an_invited_user_deactivated_meanwhile_is_not_signed_in(alice_client, client):
    dana, body = _invite(alice_client)
    path = re.search(r"https://portal\.example\.com(/accounts/invitation/\S+/)", body).group(1)
    form_url = client.get(path)["Location"]
    User.objects.filter(pk=dana.pk).update(is_active=False)
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == "/accounts/login/"
    assert SESSION_KEY not in client.session
