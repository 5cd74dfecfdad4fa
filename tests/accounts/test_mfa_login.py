"""The second step of login: codes, backup codes, throttling, session rotation."""

import pytest
from django.contrib.auth import SESSION_KEY
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import AuditEvent, BackupCode
from tests.factories import PASSWORD
from tests.totp import code_for, enrol, make_device

CODE_URL = "/accounts/login/code/"


def password_login(client, user):
    return client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})


def test_user_with_mfa_goes_to_the_code_page_after_the_password(client, alice):
    make_device(alice)
    response = password_login(client, alice)
    assert response.status_code == 302
    assert response["Location"] == f"{CODE_URL}?next=%2F"
    page = client.get(response["Location"])
    assert b"Enter your code" in page.content
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_unverified_session_reaches_nothing_but_the_code_page(client, alice):
    make_device(alice)
    password_login(client, alice)
    for url in ("/clients/", "/accounts/users/", "/accounts/settings/", "/accounts/settings/mfa/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(CODE_URL), url
    assert client.get(CODE_URL).status_code == 200


def test_a_real_code_verifies_the_session_and_rotates_its_key(client, alice):
    device = make_device(alice)
    password_login(client, alice)
    key_before = client.session.session_key
    csrf_before = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else None
    client.get(CODE_URL)
    csrf_before = client.cookies["csrftoken"].value
    response = client.post(CODE_URL, {"code": code_for(device), "next": "/accounts/settings/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"
    assert client.session.session_key != key_before
    assert client.cookies["csrftoken"].value != csrf_before
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get("/clients/").status_code == 200
    assert AuditEvent.objects.filter(action="mfa_verified", actor=alice).exists()


def test_next_must_stay_on_the_site(client, alice):
    device = make_device(alice)
    password_login(client, alice)
    response = client.post(
        CODE_URL, {"code": code_for(device), "next": "https://evil.example.net/"}
    )
    assert response["Location"] == "/"


def test_a_wrong_code_is_refused_and_audited(client, alice):
    make_device(alice)
    password_login(client, alice)
    response = client.post(CODE_URL, {"code": "000000"})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert AuditEvent.objects.filter(action="mfa_failed", actor=alice).count() == 1


def test_a_code_is_accepted_only_once(client, alice, settings):
    device = make_device(alice)
    code = code_for(device)
    password_login(client, alice)
    assert client.post(CODE_URL, {"code": code}).status_code == 302
    client.post("/accounts/logout/")
    password_login(client, alice)
    response = client.post(CODE_URL, {"code": code})
    assert response.status_code == 200
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_codes_one_step_either_side_are_accepted(client, alice):
    for steps in (-1, 1):
        device = make_device(alice)
        password_login(client, alice)
        assert client.post(CODE_URL, {"code": code_for(device, steps)}).status_code == 302
        client.post("/accounts/logout/")
        device.delete()


def test_codes_two_steps_away_are_refused(client, alice):
    device = make_device(alice)
    password_login(client, alice)
    for steps in (-2, 2):
        device.throttle_reset()
        response = client.post(CODE_URL, {"code": code_for(device, steps)})
        assert response.status_code == 200


def test_failures_are_throttled_on_the_device_not_the_session(client, alice):
    device = make_device(alice)
    password_login(client, alice)
    client.post(CODE_URL, {"code": "000000"})
    refused = client.post(CODE_URL, {"code": code_for(device)})
    assert "Too many wrong codes" in refused.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1

    # A new session does not start with a clean slate.
    client.post("/accounts/logout/")
    password_login(client, alice)
    again = client.post(CODE_URL, {"code": code_for(device)})
    assert "Too many wrong codes" in again.content.decode()


def test_the_throttle_delay_grows_with_each_failure(alice):
    from accounts import mfa

    device = make_device(alice)
    for expected in (1, 2, 3):
        device.throttle_reset()
        device.throttling_failure_count = expected - 1
        device.save()
        with pytest.raises(mfa.CodeRefused, match="not right"):
            mfa.verify(alice, "000000")
        device.refresh_from_db()
        assert device.throttling_failure_count == expected


def test_a_backup_code_works_exactly_once(client, alice):
    _device, codes = enrol(alice)
    password_login(client, alice)
    response = client.post(CODE_URL, {"code": codes[0].lower().replace("-", " ")})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="backup_code_used", actor=alice).exists()
    client.post("/accounts/logout/")
    password_login(client, alice)
    assert client.post(CODE_URL, {"code": codes[0]}).status_code == 200
    assert BackupCode.objects.filter(user=alice, used_at__isnull=True).count() == 9


def test_backup_codes_are_not_stored_in_plain_text(alice):
    _device, codes = enrol(alice)
    stored = list(BackupCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert code not in stored
        assert code.replace("-", "") not in stored
        assert len(code.replace("-", "")) == 24  # 120 random bits


def test_an_unconfirmed_device_is_never_accepted(client, alice):
    from accounts import mfa

    device = mfa.pending_device(alice)
    password_login(client, alice)
    # Without a confirmed device there is no code step: the session is not "verified" by a code.
    assert client.post(CODE_URL, {"code": code_for(device)}).status_code == 200
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_password_reset_does_not_skip_the_code_step(client, alice):
    device = make_device(alice)
    from django.core import mail

    client.post("/accounts/password-reset/", {"email": alice.email})
    link = mail.outbox[0].body.split("https://portal.example.com", 1)[1].split()[0]
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    new = "after-the-reset-passphrase"
    client.post(set_url, {"new_password1": new, "new_password2": new})
    response = client.post("/accounts/login/", {"username": alice.email, "password": new})
    assert response["Location"].startswith(CODE_URL)
    assert SESSION_KEY in client.session
    assert client.get("/clients/")["Location"].startswith(CODE_URL)
    assert client.post(CODE_URL, {"code": code_for(device)}).status_code == 302
