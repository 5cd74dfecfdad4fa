"""The firm's MFA policy, its reminder emails, and admin resets."""

from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import policy
from accounts.models import AuditEvent, BackupCode
from tests.factories import PASSWORD, make_operator, make_user
from tests.totp import code_for, enrol, make_device, sign_in

POLICY_URL = "/accounts/users/mfa-policy/"


def test_switching_the_policy_on_emails_exactly_the_users_without_mfa_once(
    client, alice, bob, carol, firm_a, django_capture_on_commit_callbacks
):
    alice_device = make_device(alice)
    with_mfa = make_user(firm_a, "has-mfa@alpha.example.com")
    make_device(with_mfa)
    make_user(firm_a, "inactive@alpha.example.com", is_active=False)
    sign_in(client, alice, alice_device)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(POLICY_URL, {"required": "on"})
    assert response.status_code == 302
    firm_a.refresh_from_db()
    assert firm_a.requires_mfa
    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert "/accounts/settings/mfa/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="mfa_policy_changed", firm=firm_a).count() == 1

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(POLICY_URL, {"required": "on"})
        client.get("/clients/")
    assert mail.outbox == []


def test_only_an_admin_with_mfa_can_require_it(alice_client, firm_a):
    response = alice_client.post(POLICY_URL, {"required": "on"}, follow=True)
    assert "Set up multi-factor authentication for yourself" in response.content.decode()
    firm_a.refresh_from_db()
    assert not firm_a.is_mfa_required_by_admin


def test_switching_the_policy_off(client, alice, firm_a):
    device = make_device(alice)
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    sign_in(client, alice, device)
    client.post(POLICY_URL, {})
    firm_a.refresh_from_db()
    assert not firm_a.requires_mfa


def test_reminders_are_sent_only_when_the_requirement_starts(alice, bob, firm_a):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    with policy.tracking_mfa_requirement(firm_a):
        pass  # already required: nothing starts
    assert mail.outbox == []


def test_a_session_opened_before_the_policy_is_confined_on_its_next_request(bob_client, firm_a):
    assert bob_client.get("/clients/").status_code == 200
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    response = bob_client.get("/clients/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/mfa/?next=%2Fclients%2F"
    page = bob_client.get(response["Location"])
    assert "Your firm requires multi-factor authentication" in page.content.decode()


def test_non_html_requests_get_403_instead_of_a_redirect(bob_client, firm_a):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    response = bob_client.get("/clients/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403


def test_after_enrolling_the_user_reaches_the_portal_again(client, bob, firm_a):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    client.post("/accounts/login/", {"username": bob.email, "password": PASSWORD})
    assert client.get("/clients/").status_code == 302
    client.get("/accounts/settings/mfa/")
    device = TOTPDevice.objects.get(user=bob, confirmed=False)
    client.post("/accounts/settings/mfa/", {"code": code_for(device)})
    assert client.get("/clients/").status_code == 200


def test_admin_reset_removes_mfa_ends_sessions_and_requires_enrolment(
    client, sudo_alice_client, bob, firm_a
):
    device, _codes = enrol(bob)
    bob_session = sign_in(client, bob, device, steps=1)
    assert bob_session.get("/clients/").status_code == 200
    mail.outbox.clear()

    response = sudo_alice_client.post(f"/accounts/users/{bob.pk}/reset-mfa/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=bob).exists()
    assert not BackupCode.objects.filter(user=bob).exists()
    assert bob_session.get("/clients/")["Location"].startswith("/accounts/login/")
    assert mail.outbox[0].to == [bob.email]
    assert AuditEvent.objects.filter(action="mfa_reset", detail=bob.email).exists()

    # Next login: confined to Configure MFA although the firm does not require MFA.
    bob_session.post("/accounts/login/", {"username": bob.email, "password": PASSWORD})
    assert bob_session.get("/clients/")["Location"].startswith("/accounts/settings/mfa/")
    bob_session.get("/accounts/settings/mfa/")
    new_device = TOTPDevice.objects.get(user=bob, confirmed=False)
    bob_session.post("/accounts/settings/mfa/", {"code": code_for(new_device)})
    bob.refresh_from_db()
    assert not bob.must_enrol_mfa
    assert bob_session.get("/clients/").status_code == 200


def test_admins_reset_their_own_mfa_in_user_settings(alice_client, alice):
    make_device(alice)
    alice_client.post(f"/accounts/users/{alice.pk}/reset-mfa/")
    assert TOTPDevice.objects.filter(user=alice).exists()


def test_manage_users_shows_who_has_mfa(alice_client, bob, firm_a):
    make_device(bob)
    content = alice_client.get("/accounts/users/").content.decode()
    assert content.count("Enabled") == 1
    assert content.count("Not set up") == 1


def test_platform_operator_must_use_mfa_for_the_django_admin(client, db):
    operator, password = make_operator()
    client.post("/accounts/login/", {"username": operator.email, "password": password})
    response = client.get("/platform-admin/")
    assert response["Location"].startswith("/accounts/settings/mfa/")
    client.get("/accounts/settings/mfa/")
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    client.post("/accounts/settings/mfa/", {"code": code_for(device)})
    assert client.get("/platform-admin/").status_code == 200
