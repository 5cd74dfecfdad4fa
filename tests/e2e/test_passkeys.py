"""Passkeys in Debian's Chromium, with its virtual authenticator (the DevTools WebAuthn domain).

Browsers refuse WebAuthn on a bare IP address, so these tests open the live server as
``localhost`` and make it the relying party. The virtual authenticator is a CTAP2 platform
authenticator with user verification (like Windows Hello or Touch ID); a second test adds a
USB security key (CTAP2, no resident keys) beside it.
"""

import pytest
from django.core import mail

from accounts.models import AuditEvent
from tests.factories import PASSWORD, make_firm
from tests.totp import code_for, make_device

from .conftest import assert_accessible, assert_fits

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLATFORM = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}
SECURITY_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": False,
}


@pytest.fixture
def site(portal, settings):
    """The live server as http://localhost:<port>, the relying party passkeys are made for."""
    base = portal.replace("127.0.0.1", "localhost")
    settings.SITE_URL = base
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [base]
    return base


@pytest.fixture
def firm():
    return make_firm("Harbour View Accounting", seat_limit=10)


def add_authenticator(page, options: dict) -> tuple:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    result = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, result["authenticatorId"]


def credentials(cdp, authenticator_id: str) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def sign_in(page, site: str, user) -> None:
    """The password step; then the code page, with its scripts loaded (they fetch the strings)."""
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")


def verify_code(page, code: str) -> None:
    """The code step; waits for the page after it, scripts and all."""
    page.get_by_label("Code").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state("load")


def log_out(page) -> None:
    # The page's scripts finish loading first: logging out mid-load would abort their requests.
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Log out").first.click()
    page.get_by_role("button", name="Log in").wait_for()


def register_passkey(page, name: str) -> None:
    """On Configure MFA: add a passkey with the virtual authenticator, then name it."""
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Passkey added: give it a name").wait_for()
    page.get_by_label("Name").fill(name)
    with page.expect_navigation():
        page.get_by_role("button", name="Save name").click()
    page.wait_for_load_state("load")


def test_staff_enrols_with_a_passkey_signs_in_with_it_and_falls_back_to_a_code(
    page_factory, site, firm, staff
):
    firm.is_mfa_required_by_admin = True
    firm.save()
    page = page_factory()
    cdp, authenticator = add_authenticator(page, PLATFORM)
    sign_in(page, site, staff)
    page.get_by_role("heading", name="Use a passkey").wait_for()
    assert_accessible(page, "Set up MFA, with passkeys")
    page.shot("enrol-choice")

    register_passkey(page, "Work laptop")
    page.get_by_role("heading", name="Your backup codes").wait_for()
    codes = [code.strip() for code in page.locator("#backup-codes code").all_inner_texts()]
    assert len(codes) == 10
    assert len(credentials(cdp, authenticator)) == 1
    page.get_by_role("link", name="I’ve saved my codes — continue").click()
    page.wait_for_url(f"{site}/clients/")
    assert AuditEvent.objects.filter(
        action="mfa_enrolled", actor=staff, detail__startswith="Passkey: "
    ).exists()
    assert "mfa_enabled" not in [m.subject for m in mail.outbox]

    page.goto(site + "/accounts/settings/mfa/")
    page.get_by_role("cell", name="Work laptop", exact=True).wait_for()
    assert_accessible(page, "Configure MFA with a passkey")
    page.shot("mfa-status-1280")

    # Sign out, then in again: password, then the passkey.
    log_out(page)
    sign_in(page, site, staff)
    page.get_by_role("heading", name="Use your passkey").wait_for()
    assert_accessible(page, "Use your passkey")
    page.shot("use-your-passkey")
    key_before = page.context.cookies()
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_url(f"{site}/clients/")
    session_cookie = next(c for c in key_before if c["name"] == "sessionid")["value"]
    assert (
        next(c for c in page.context.cookies() if c["name"] == "sessionid")["value"]
        != session_cookie
    ), "the session key must change after the second factor"
    assert AuditEvent.objects.filter(
        action="mfa_verified", actor=staff, detail="with a passkey"
    ).exists()

    # Sign out, then in again with a backup code instead.
    log_out(page)
    sign_in(page, site, staff)
    page.get_by_text("Use a backup code instead").click()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site}/clients/")
    page.get_by_text("You used a backup code; 9 left").wait_for()
    page.problems.assert_none()


def test_admin_adds_a_security_key_beside_the_app_uses_the_app_and_removes_the_key(
    page_factory, site, admin
):
    device = make_device(admin)
    page = page_factory()
    cdp, authenticator = add_authenticator(page, SECURITY_KEY)
    sign_in(page, site, admin)
    verify_code(page, code_for(device))
    page.goto(site + "/accounts/settings/mfa/")
    register_passkey(page, "Blue YubiKey")
    page.get_by_text("Your passkey “Blue YubiKey” is ready.").wait_for()
    assert len(credentials(cdp, authenticator)) == 1

    # Sign in again with the authenticator app instead of the key.
    log_out(page)
    sign_in(page, site, admin)
    page.get_by_text("Use your authenticator app or a backup code instead").click()
    page.get_by_label("Code").fill(code_for(device, 1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site}/clients/")

    # Removing it needs a recent password or code: the login's password still counts.
    page.goto(site + "/accounts/settings/mfa/")
    page.get_by_role("button", name="Remove Blue YubiKey").click()
    page.get_by_text("The passkey “Blue YubiKey” was removed.").wait_for()
    page.wait_for_load_state("load")
    assert not admin.webauthncredential_set.exists()
    page.problems.assert_none()


def test_an_admins_reset_removes_a_passkey_and_the_user_enrols_again(
    page_factory, site, firm, admin, staff
):
    admin_device = make_device(admin)
    staff_page = page_factory()
    add_authenticator(staff_page, PLATFORM)
    sign_in(staff_page, site, staff)
    staff_page.goto(site + "/accounts/settings/mfa/")
    register_passkey(staff_page, "Phone")
    staff_page.get_by_role("heading", name="Your backup codes").wait_for()

    page = page_factory()
    sign_in(page, site, admin)
    verify_code(page, code_for(admin_device))
    page.goto(site + "/accounts/users/")
    row = page.get_by_role("row", name="Sam Example")
    assert "1 passkey" in row.inner_text()
    assert "10 backup codes left" in row.inner_text()
    assert_accessible(page, "Manage Users with factors")
    page.shot("manage-users-factors")
    row.get_by_role("link", name="Sam Example").click()
    page.get_by_role("button", name=f"Reset MFA for {staff.email}").click()
    page.locator("#reset-mfa-dialog").get_by_role("button", name="Reset MFA").click()
    page.get_by_text("MFA was reset").wait_for()
    page.wait_for_load_state("load")
    assert not staff.webauthncredential_set.exists()

    staff_page.goto(site + "/clients/")
    staff_page.get_by_role("button", name="Log in").wait_for()
    sign_in(staff_page, site, staff)
    staff_page.get_by_role("heading", name="Use a passkey").wait_for()
    page.problems.assert_none()
    staff_page.problems.assert_none()


def test_the_passkey_pages_fit_a_phone(page_factory, site, staff):
    page = page_factory(375)
    add_authenticator(page, PLATFORM)
    sign_in(page, site, staff)
    page.goto(site + "/accounts/settings/mfa/")
    register_passkey(page, "Phone")
    page.get_by_role("heading", name="Your backup codes").wait_for()
    page.goto(site + "/accounts/settings/mfa/")
    assert_fits(page)
    page.shot("mfa-status-375")
    page.context.clear_cookies()  # logged out (on a phone the button is behind the menu)
    sign_in(page, site, staff)
    page.get_by_role("button", name="Use your passkey").wait_for()
    assert_fits(page)
    page.shot("use-your-passkey-375")
    page.problems.assert_none()


def test_the_connect_dialog_shows_who_is_ready_and_sends_a_reminder(
    page_factory, site, firm, admin, staff
):
    device = make_device(admin)
    page = page_factory()
    sign_in(page, site, admin)
    verify_code(page, code_for(device))
    page.goto(site + "/clients/manage/")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Xero Sync").click()
    dialog = page.locator("#mfa-dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_role("heading", name="1 of 2 users have MFA").wait_for()
    assert "Sam Example" in dialog.inner_text()
    assert_accessible(page, "The connect dialog with MFA readiness")
    page.shot("readiness-dialog")
    mail.outbox.clear()
    dialog.get_by_role("button", name="Send reminder now").click()
    page.get_by_text("Reminder sent to 1 user.").wait_for()
    page.wait_for_load_state("load")
    assert [m.to for m in mail.outbox] == [[staff.email]]
    assert "/accounts/settings/mfa/" in mail.outbox[0].body

    # The admin then continues, as before, to the Xero login.
    page.get_by_role("link", name="Xero Sync").click()
    page.locator("#mfa-dialog").get_by_role("button", name="Continue").click()
    page.locator("#redirect-dialog").wait_for(state="visible")
    page.problems.assert_none()
