from django.core import mail

from accounts.models import AuditEvent, User
from tests.factories import PASSWORD


def test_bob_saves_his_name_greeting_sign_off_and_signature(bob_client, bob):
    data = {
        "first_name": "Robert",
        "last_name": "Tennant",
        "greeting": "Hi",
        "sign_off": "Kind regards",
        "email_signature": "Robert Tennant\nAlpha Accounting",
    }
    assert bob_client.post("/accounts/settings/", data).status_code == 302
    bob.refresh_from_db()
    assert (bob.first_name, bob.greeting, bob.sign_off) == ("Robert", "Hi", "Kind regards")
    assert bob.email_signature == "Robert Tennant\nAlpha Accounting"


def test_changing_email_needs_the_password(bob_client, bob):
    response = bob_client.post(
        "/accounts/settings/email/",
        {"email": "rob@alpha.example.com", "password": "not-my-password"},
    )
    assert response.status_code == 400
    assert "That is not your current password." in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@alpha.example.com"


def test_changing_email_tells_the_old_address(bob_client, bob):
    response = bob_client.post(
        "/accounts/settings/email/", {"email": "Rob@Alpha.example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.email == "rob@alpha.example.com"
    assert mail.outbox[0].to == ["bob@alpha.example.com"]
    assert AuditEvent.objects.filter(action="email_changed", actor=bob).exists()
    assert bob_client.get("/clients/").status_code == 200


def test_an_email_in_use_anywhere_on_the_platform_is_refused(bob_client, bob, carol):
    response = bob_client.post(
        "/accounts/settings/email/", {"email": carol.email, "password": PASSWORD}
    )
    assert "already exists" in response.content.decode()
    assert User.objects.get(pk=bob.pk).email == "bob@alpha.example.com"


def test_failed_logins_are_audited_in_the_accounts_firm(client, alice, carol):
    client.post("/accounts/login/", {"username": alice.email, "password": "wrong-password-1"})
    client.post("/accounts/login/", {"username": "nobody@alpha.example.com", "password": "x" * 12})
    events = AuditEvent.objects.filter(action="login_failed")
    assert [(e.firm_id, e.actor_id, e.detail) for e in events] == [
        (alice.firm_id, alice.pk, "wrong password")
    ]
    assert events[0].ip_address == "127.0.0.1"
