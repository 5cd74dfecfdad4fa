import re

from django.contrib.auth import SESSION_KEY
from django.core import mail

from tests.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"


def _link_from(message) -> str:
    match = re.search(r"https://portal\.example\.com(/accounts/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_flow_sets_a_new_password(client, alice):
    response = client.post("/accounts/password-reset/", {"email": "ALICE@alpha.example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]

    link = _link_from(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password-reset/complete/"

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert (
        SESSION_KEY not in client.session
    )  # reset does not log in: the login (and MFA) still apply


def test_reset_link_works_only_once(client, alice):
    client.post("/accounts/password-reset/", {"email": alice.email})
    link = _link_from(mail.outbox[0])
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    again = client.get(link, follow=True)
    assert b"This link has expired" in again.content


def test_reset_for_unknown_address_looks_the_same_and_sends_nothing(client, db):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_reset_link_uses_site_url_not_the_host_header(client, alice, settings):
    settings.ALLOWED_HOSTS = ["evil.example.net", "testserver"]
    client.post("/accounts/password-reset/", {"email": alice.email}, HTTP_HOST="evil.example.net")
    assert "evil.example.net" not in mail.outbox[0].body
    assert "https://portal.example.com/accounts/password-reset/" in mail.outbox[0].body


def test_weak_passwords_are_refused(client, alice):
    client.post("/accounts/password-reset/", {"email": alice.email})
    set_url = client.get(_link_from(mail.outbox[0]), follow=True).redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_reset_ends_the_users_other_sessions(client, alice, alice_client):
    assert alice_client.get("/clients/").status_code == 200
    client.post("/accounts/password-reset/", {"email": alice.email})
    set_url = client.get(_link_from(mail.outbox[0]), follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert alice_client.get("/clients/").status_code == 302


def test_password_change_keeps_this_session_and_ends_the_others(alice, alice_client, client):
    client.force_login(alice)
    response = alice_client.post(
        "/accounts/settings/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert alice_client.get("/clients/").status_code == 200
    assert client.get("/clients/").status_code == 302
    assert [m.subject for m in mail.outbox] == ["Your password was changed"]
    assert "a-brand-new-passphrase-42" not in mail.outbox[0].body
