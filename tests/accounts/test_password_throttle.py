"""One throttle for every password form: the login, each "current password" field, the admin."""

import logging

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.models import AuditEvent
from tests.factories import PASSWORD, make_operator
from tests.totp import code_for, enrol

WRONG = "not-the-password-at-all"
LOCKED = "Too many wrong passwords"


def fail_logins(email, times=5):
    for _ in range(times):
        Client().post("/accounts/login/", {"username": email, "password": WRONG})


def change_email(http, password, email="new@alpha.example.com"):
    return http.post("/accounts/settings/email/", {"email": email, "password": password})


def test_email_change_refuses_even_the_right_password_after_five_wrong_ones(alice_client, alice):
    for _ in range(5):
        assert "not your current password" in change_email(alice_client, WRONG).content.decode()
    refused = change_email(alice_client, PASSWORD)
    assert LOCKED in refused.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@alpha.example.com"


def test_wrong_logins_and_wrong_current_passwords_share_one_counter(alice_client, alice):
    fail_logins(alice.email, times=4)
    change_email(alice_client, WRONG)
    assert LOCKED in change_email(alice_client, PASSWORD).content.decode()
    login = Client().post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    assert "Too many failed login attempts" in login.content.decode()


def test_the_right_current_password_clears_the_accounts_counter(alice_client, alice):
    fail_logins(alice.email, times=4)
    assert change_email(alice_client, PASSWORD).status_code == 302
    fail_logins("new@alpha.example.com", times=4)
    login = Client().post(
        "/accounts/login/", {"username": "new@alpha.example.com", "password": PASSWORD}
    )
    assert login.status_code == 302


def test_password_change_checks_the_old_password_through_the_throttle(alice_client, alice):
    fail_logins(alice.email)
    response = alice_client.post(
        "/accounts/settings/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase-42",
            "new_password2": "a-brand-new-passphrase-42",
        },
    )
    assert LOCKED in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_mfa_enrolment_checks_the_password_through_the_throttle(alice_client, alice):
    fail_logins(alice.email)
    alice_client.get("/accounts/settings/mfa/")
    response = alice_client.post(
        "/accounts/settings/mfa/", {"password": PASSWORD, "code": "123456"}
    )
    assert LOCKED in response.content.decode()


@pytest.mark.parametrize(
    "url,prefix",
    [
        ("/accounts/settings/mfa/backup-codes/", "backup"),
        ("/accounts/settings/mfa/disable/", "disable"),
    ],
)
def test_new_backup_codes_and_turning_mfa_off_check_the_password_through_the_throttle(
    client, alice, url, prefix
):
    device, _codes = enrol(alice)
    client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    client.post("/accounts/login/code/", {"code": code_for(device, 1)})
    fail_logins(alice.email)
    response = client.post(url, {f"{prefix}-password": PASSWORD, f"{prefix}-code": "123456"})
    assert LOCKED in response.content.decode()


def test_wrong_codes_in_a_reauthentication_form_meet_the_devices_throttle(client, alice):
    device, _codes = enrol(alice)
    client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    client.post("/accounts/login/code/", {"code": code_for(device, 1)})
    url = "/accounts/settings/mfa/backup-codes/"
    wrong = client.post(url, {"backup-password": PASSWORD, "backup-code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    # The next try comes within the device's delay: refused without being checked.
    right = client.post(url, {"backup-password": PASSWORD, "backup-code": code_for(device, -1)})
    assert "Too many wrong codes" in right.content.decode()


def test_wrong_current_passwords_are_audited(alice_client, alice):
    change_email(alice_client, WRONG)
    event = AuditEvent.objects.get(action="password_check_failed")
    assert event.actor == alice
    assert event.detail == "email change: wrong password"
    assert event.ip_address == "127.0.0.1"


def test_repeated_wrong_passwords_raise_one_warning_and_one_audit_event(alice, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.security"):
        fail_logins(alice.email, times=8)
    warnings = [r for r in caplog.records if r.name == "accounts.security"]
    assert len(warnings) == 1
    assert f"user_id={alice.pk}" in warnings[0].getMessage()
    assert alice.email not in warnings[0].getMessage()
    events = AuditEvent.objects.filter(firm=alice.firm, action="repeated_failures")
    assert [(e.actor, e.ip_address) for e in events] == [(alice, "127.0.0.1")]


def test_repeated_wrong_codes_raise_a_warning_and_an_audit_event(client, alice, caplog):
    device, _codes = enrol(alice)
    client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    # Four wrong codes already, their delay over (waiting it out would take 15 seconds).
    device.throttling_failure_count = 4
    device.throttling_failure_timestamp = None
    device.save()
    with caplog.at_level(logging.WARNING, logger="accounts.security"):
        client.post("/accounts/login/code/", {"code": "000000"})
    assert any(
        f"Repeated failed codes for one account: user_id={alice.pk}" in r.getMessage()
        for r in caplog.records
    )
    event = AuditEvent.objects.get(action="repeated_failures")
    assert event.actor == alice
    assert "codes" in event.detail


def test_an_address_failing_across_accounts_raises_a_warning(db, settings, caplog):
    settings.LOGIN_THROTTLE_PER_IP = 3
    with caplog.at_level(logging.WARNING, logger="accounts.security"):
        for n in range(3):
            fail_logins(f"guess{n}@example.com", times=1)
    assert any("from one address: ip=127.0.0.1" in r.getMessage() for r in caplog.records)


# --- The Django admin has no password form of its own --------------------------------------------


def test_a_signed_in_firm_user_gets_403_from_the_admin_login(bob_client):
    assert bob_client.get("/platform-admin/login/").status_code == 403


def test_posting_an_operators_password_to_the_admin_login_logs_nobody_in(bob_client, bob):
    operator, password = make_operator()
    response = bob_client.post(
        "/platform-admin/login/", {"username": operator.email, "password": password}
    )
    assert response.status_code == 403
    assert bob_client.session[SESSION_KEY] == str(bob.pk)


def test_an_anonymous_post_to_the_admin_login_goes_to_the_portal_login(client, db):
    operator, password = make_operator()
    response = client.post(
        "/platform-admin/login/", {"username": operator.email, "password": password}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert SESSION_KEY not in client.session


def test_a_signed_in_operator_is_sent_on_from_the_admin_login(operator_client):
    response = operator_client.get("/platform-admin/login/?next=/platform-admin/accounts/firm/")
    assert response["Location"] == "/platform-admin/accounts/firm/"
    assert operator_client.get("/platform-admin/login/")["Location"] == "/platform-admin/"


def test_the_admins_password_change_is_the_portals(operator_client):
    response = operator_client.get("/platform-admin/password_change/")
    assert response["Location"] == "/accounts/settings/password/"
