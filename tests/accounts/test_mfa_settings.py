"""Configure MFA: enrolment, backup codes, disabling."""

import re

import pytest
from django.core import mail
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from accounts.models import AuditEvent, BackupCode
from tests.factories import PASSWORD
from tests.totp import code_for, enrol

MFA_URL = "/accounts/settings/mfa/"


def logged_in_with_password(client, user):
    client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    return client


def test_configure_mfa_shows_a_qr_code_and_the_secret_in_groups_of_four(client, alice):
    page = logged_in_with_password(client, alice).get(MFA_URL)
    content = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in content
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    secret = mfa.secret_for_display(device)
    assert secret in content
    assert all(len(group) == 4 for group in secret.split()[:-1])
    assert "no-store" in page["Cache-Control"]


def test_reloading_the_page_keeps_the_same_secret(client, alice):
    logged_in_with_password(client, alice)
    client.get(MFA_URL)
    client.get(MFA_URL)
    assert TOTPDevice.objects.filter(user=alice).count() == 1


def test_enrolling_with_a_real_code(client, alice):
    logged_in_with_password(client, alice)
    client.get(MFA_URL)
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    response = client.post(MFA_URL, {"code": code_for(device)})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = re.findall(r"<code>([A-Z2-7-]+)</code>", response.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert BackupCode.objects.filter(user=alice).count() == 10
    assert AuditEvent.objects.filter(action="mfa_enrolled", actor=alice).exists()
    assert [m.subject for m in mail.outbox] == [
        "Multi-factor authentication is on for your account"
    ]
    assert not any(code in mail.outbox[0].body for code in codes)
    assert client.get("/clients/").status_code == 200


def test_a_wrong_enrolment_code_is_refused(client, alice):
    logged_in_with_password(client, alice)
    client.get(MFA_URL)
    response = client.post(MFA_URL, {"code": "123456"})
    assert "That code is not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()


def test_the_enrolment_code_cannot_be_replayed_at_the_next_login(client, alice):
    logged_in_with_password(client, alice)
    client.get(MFA_URL)
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    code = code_for(device)
    client.post(MFA_URL, {"code": code})
    client.post("/accounts/logout/")
    logged_in_with_password(client, alice)
    response = client.post("/accounts/login/code/", {"code": code})
    assert response.status_code == 200
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_enrolling_ends_the_users_other_sessions(client, alice, alice_client):
    assert alice_client.get("/clients/").status_code == 200
    logged_in_with_password(client, alice)
    client.get(MFA_URL)
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    client.post(MFA_URL, {"code": code_for(device)})
    assert client.get("/clients/").status_code == 200
    assert alice_client.get("/clients/")["Location"].startswith("/accounts/login/")


def test_enrolling_needs_a_recent_password(alice_client, alice):
    # force_login: no password was typed in this session.
    page = alice_client.get(MFA_URL)
    assert "Your current password" in page.content.decode()
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    refused = alice_client.post(MFA_URL, {"code": code_for(device), "password": "wrong-password!!"})
    assert "That is not your current password." in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    accepted = alice_client.post(MFA_URL, {"code": code_for(device), "password": PASSWORD})
    assert accepted.status_code == 200
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()


def _verified(client, user, device):
    logged_in_with_password(client, user)
    client.post("/accounts/login/code/", {"code": code_for(device, 1)})
    assert DEVICE_ID_SESSION_KEY in client.session
    return client


def test_new_backup_codes_replace_the_old_ones(client, alice):
    device, old_codes = enrol(alice)
    _verified(client, alice, device)
    device.refresh_from_db()
    mail.outbox.clear()
    response = client.post(
        "/accounts/settings/mfa/backup-codes/",
        {"backup-password": PASSWORD, "backup-code": old_codes[0]},
    )
    new_codes = re.findall(r"<code>([A-Z2-7-]+)</code>", response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert "no-store" in response["Cache-Control"]
    assert mail.outbox[0].subject == "New backup codes were made for your account"
    with pytest.raises(mfa.CodeRefused):
        mfa.verify(alice, old_codes[1])


def test_new_backup_codes_need_the_password_and_a_code(client, alice):
    device, old_codes = enrol(alice)
    _verified(client, alice, device)
    before = set(BackupCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    response = client.post(
        "/accounts/settings/mfa/backup-codes/",
        {"backup-password": "wrong-password!!", "backup-code": old_codes[0]},
    )
    assert response.status_code == 400
    assert "That is not your current password." in response.content.decode()
    after = set(BackupCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    assert after == before


def test_disabling_mfa_needs_the_password_and_a_code(client, alice):
    device, codes = enrol(alice)
    _verified(client, alice, device)
    refused = client.post(
        "/accounts/settings/mfa/disable/", {"disable-password": PASSWORD, "disable-code": "000000"}
    )
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=alice).exists()
    device.refresh_from_db()
    device.throttle_reset()  # the wrong code above started the throttle's delay
    mail.outbox.clear()
    response = client.post(
        "/accounts/settings/mfa/disable/", {"disable-password": PASSWORD, "disable-code": codes[0]}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not BackupCode.objects.filter(user=alice).exists()
    assert mail.outbox[0].subject == "Multi-factor authentication was turned off for your account"
    assert AuditEvent.objects.filter(action="mfa_disabled", actor=alice).exists()


def test_disabling_is_refused_while_the_firm_requires_mfa(client, alice, firm_a):
    device, codes = enrol(alice)
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    _verified(client, alice, device)
    page = client.get(MFA_URL).content.decode()
    assert "Your firm requires multi-factor authentication for everyone" in page
    response = client.post(
        "/accounts/settings/mfa/disable/",
        {"disable-password": PASSWORD, "disable-code": codes[0]},
        follow=True,
    )
    assert "cannot be turned off" in response.content.decode()
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
