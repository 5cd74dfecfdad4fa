"""Passkeys as a second factor: the rules the portal adds around django-otp-webauthn.

The ceremonies themselves run in a real browser (tests/e2e/test_passkeys.py); these tests hold
what needs no authenticator: who may start one, CSRF, throttling, naming, removal, resets, and
what a passkey means for the firm's MFA policy.
"""

import json

from django.core import mail
from django.test import Client as HttpClient

from accounts import mfa, policy
from accounts.models import AuditEvent, BackupCode
from tests.factories import PASSWORD
from tests.passkeys import make_passkey
from tests.totp import code_for, make_device, sign_in

REGISTER_BEGIN = "/accounts/passkeys/registration/begin/"
AUTH_BEGIN = "/accounts/passkeys/authentication/begin/"
AUTH_COMPLETE = "/accounts/passkeys/authentication/complete/"


def _password_login(http, user):
    http.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    return http


def test_a_passkey_alone_counts_as_mfa_for_the_firm(bob, firm_a):
    assert not mfa.has_mfa(bob)
    make_passkey(bob)
    assert mfa.has_mfa(bob)
    assert bob not in policy.users_without_mfa(firm_a)


def test_after_the_password_a_user_with_a_passkey_is_offered_it_and_a_backup_code(client, bob):
    make_passkey(bob)
    _password_login(client, bob)
    page = client.get("/accounts/login/code/").content.decode()
    assert "Use your passkey" in page
    assert "Use a backup code instead" in page
    assert "authenticator app or a backup code instead" not in page
    assert client.get("/clients/")["Location"].startswith("/accounts/login/code/")


def test_with_an_app_as_well_the_fallback_offers_the_app(client, bob):
    make_passkey(bob)
    make_device(bob)
    _password_login(client, bob)
    page = client.get("/accounts/login/code/").content.decode()
    assert "Use your authenticator app or a backup code instead" in page


def test_the_passkey_options_name_the_site_url_as_relying_party(client, bob, settings):
    settings.OTP_WEBAUTHN_RP_ID = "portal.example.com"
    make_passkey(bob)
    _password_login(client, bob)
    response = client.post(AUTH_BEGIN, content_type="application/json")
    assert response.status_code == 200
    options = response.json()
    assert options["rpId"] == "portal.example.com"
    assert len(options["allowCredentials"]) == 1


def test_a_passkey_check_needs_a_password_first_passwordless_login_is_off(client, bob):
    make_passkey(bob)
    response = client.post(AUTH_BEGIN)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_passkey_ceremonies_refuse_a_post_without_a_csrf_token(alice, bob):
    make_passkey(bob)
    for user, urls in ((bob, (AUTH_BEGIN, AUTH_COMPLETE)), (alice, (REGISTER_BEGIN,))):
        strict = HttpClient(enforce_csrf_checks=True)
        strict.force_login(user)
        for url in urls:
            response = strict.post(url, content_type="application/json")
            assert response.status_code == 403, url
            assert b"CSRF" in response.content, url


def test_failed_passkey_checks_are_audited_and_throttled(client, bob, settings):
    make_passkey(bob)
    _password_login(client, bob)
    statuses = []
    for _ in range(settings.LOGIN_THROTTLE_PER_ACCOUNT + 1):
        client.post(AUTH_BEGIN)
        bogus = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}
        response = client.post(AUTH_COMPLETE, json.dumps(bogus), content_type="application/json")
        statuses.append(response.status_code)
    assert all(400 <= status < 500 for status in statuses[:-1])
    assert statuses[-1] == 429
    assert "Wait 15 minutes" in response.json()["detail"]
    # The refused attempt was never checked, so it is not a failure.
    failures = AuditEvent.objects.filter(action="mfa_failed", actor=bob, detail="with a passkey")
    assert failures.count() == settings.LOGIN_THROTTLE_PER_ACCOUNT


def test_a_user_without_passkeys_cannot_start_a_passkey_check(verified, alice):
    http = verified(alice)
    assert http.post(AUTH_BEGIN).status_code == 404


def test_registering_a_passkey_needs_a_recent_password(bob_client, bob):
    response = bob_client.post(REGISTER_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "confirm_first"
    http = _password_login(HttpClient(), bob)
    options = http.post(REGISTER_BEGIN).json()
    assert options["rp"]["name"] == "The Gap Portal"
    assert options["user"]["name"] == bob.email


def test_registering_a_passkey_needs_a_verified_session_when_the_user_has_mfa(client, alice):
    make_device(alice)
    _password_login(client, alice)
    response = client.post(REGISTER_BEGIN)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/code/")


def test_a_user_without_mfa_under_the_firm_policy_may_register_a_passkey(client, bob, firm_a):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    _password_login(client, bob)
    assert client.post(REGISTER_BEGIN).status_code == 200
    page = client.get("/accounts/settings/mfa/").content.decode()
    assert "Add a passkey" in page
    assert 'id="otp_webauthn_config"' in page


def test_the_mfa_page_lists_passkeys_with_rename_and_remove(verified, alice):
    http = verified(alice)
    make_passkey(alice, "Blue YubiKey")
    page = http.get("/accounts/settings/mfa/").content.decode()
    assert "Blue YubiKey" in page
    assert 'Remove<span class="visually-hidden"> Blue YubiKey' in page


def test_a_passkey_can_be_renamed(verified, alice):
    http = verified(alice)
    passkey = make_passkey(alice, "Passkey on Chrome on Linux")
    response = http.post(f"/accounts/settings/mfa/passkeys/{passkey.pk}/", {"name": " Laptop "})
    assert response.status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "Laptop"


def test_removing_a_passkey_asks_to_confirm_it_is_you_when_the_login_was_long_ago(client, alice):
    device = make_device(alice)
    passkey = make_passkey(alice)
    sign_in(client, alice, device)
    session = client.session
    session["password_confirmed_at"] = 0
    session.save()
    response = client.post(f"/accounts/settings/mfa/passkeys/{passkey.pk}/remove/")
    assert response["Location"].startswith("/accounts/confirm/")
    assert alice.webauthncredential_set.exists()

    client.post("/accounts/confirm/?next=/accounts/settings/mfa/", {"code": code_for(device, 1)})
    client.post(f"/accounts/settings/mfa/passkeys/{passkey.pk}/remove/")
    assert not alice.webauthncredential_set.exists()
    assert AuditEvent.objects.filter(action="passkey_removed", actor=alice).exists()
    assert mail.outbox[-1].subject == "A passkey was removed from your Gap Portal account"


def test_the_last_second_factor_cannot_be_removed_while_the_firm_requires_mfa(client, bob, firm_a):
    passkey = make_passkey(bob)
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    _password_login(client, bob)
    session = client.session
    session["otp_device_id"] = passkey.persistent_id
    session.save()
    client.post(f"/accounts/settings/mfa/passkeys/{passkey.pk}/remove/")
    assert bob.webauthncredential_set.exists()


def test_an_admins_reset_removes_passkeys_app_and_backup_codes(verified, alice, bob):
    make_passkey(bob)
    make_device(bob)
    BackupCode.objects.create(user=bob, code_hash="0" * 64)
    admin = verified(alice)
    admin.post(f"/accounts/users/{bob.pk}/reset-mfa/")
    assert not mfa.has_mfa(bob)
    assert not bob.webauthncredential_set.exists()
    assert not BackupCode.objects.filter(user=bob).exists()


def test_a_passkey_only_user_signs_in_with_a_backup_code(client, bob):
    passkey = make_passkey(bob)
    codes = mfa.issue_backup_codes(bob)
    _password_login(client, bob)
    response = client.post("/accounts/login/code/", {"code": codes[0]})
    assert response.status_code == 302
    assert client.get("/clients/").status_code == 200
    assert client.session["otp_device_id"] == passkey.persistent_id


def test_wrong_backup_codes_of_a_passkey_only_user_are_throttled(client, bob, settings):
    make_passkey(bob)
    codes = mfa.issue_backup_codes(bob)
    _password_login(client, bob)
    for _ in range(settings.LOGIN_THROTTLE_PER_ACCOUNT):
        client.post("/accounts/login/code/", {"code": "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"})
    page = client.post("/accounts/login/code/", {"code": codes[0]}).content.decode()
    assert "Too many wrong codes" in page
    assert client.get("/clients/").status_code == 302
