"""Issue 15 as a person sees it, at 1280 and 375 px: phones, Manage Users, the audit log, times,
the 404 page and keyboard focus."""

import csv
import io

import pytest

from accounts import audit
from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, add_contact, make_client, make_firm, make_user

from .conftest import assert_accessible, assert_fits, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = 375


@pytest.fixture
def firm():
    return make_firm("Harbour View Accounting", seat_limit=4)


@pytest.fixture
def admin(firm):
    return make_user(firm, "alex@harbourview.example.com", role=User.Role.ADMIN, first_name="Alex")


@pytest.fixture
def staff(firm):
    return make_user(firm, "sam.longname-example@harbourview.example.com", first_name="Sam")


@pytest.fixture
def invited(firm):
    user = make_user(firm, "ivy.invited@harbourview.example.com", first_name="Ivy")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def client_record(firm):
    record = make_client(
        firm,
        "Harbourline Logistics Pty Ltd",
        email="accounts.payable@harbourline-logistics.example.com",
        phone="+61 2 9000 0000",
    )
    add_contact(
        record,
        "Priya Raman",
        position="Finance Director",
        email="priya.raman@harbourline-logistics.example.com",
        phone="02 9000 0001",
        mobile="0400 000 001",
    )
    return record


def sign_in(page, portal, user) -> None:
    """Log in and wait for the first page to finish loading, favicon and all."""
    log_in(page, portal, user.email, PASSWORD)
    page.wait_for_url(f"{portal}/clients/")
    page.wait_for_load_state("load")


def admin_pages(client_record, staff):
    return [
        ("/clients/", "clients"),
        (f"/clients/{client_record.pk}/", "client"),
        (f"/clients/{client_record.pk}/contacts/", "contacts"),
        ("/clients/manage/", "manage-clients"),
        ("/clients/import/", "import"),
        ("/accounts/users/", "users"),
        ("/accounts/users/add/", "user-add"),
        (f"/accounts/users/{staff.pk}/", "user-edit"),
        ("/accounts/audit-log/", "audit-log"),
        ("/xpm/", "xero-sync"),
        ("/accounts/settings/", "settings"),
        ("/accounts/settings/password/", "password"),
        ("/accounts/settings/mfa/", "mfa"),
        ("/accounts/settings/sessions/", "sessions"),
        ("/help/", "help"),
        ("/no-such-page/", "not-found"),
    ]


def staff_pages(client_record):
    return [
        ("/clients/", "clients"),
        (f"/clients/{client_record.pk}/", "client"),
        (f"/clients/{client_record.pk}/contacts/", "contacts"),
        ("/accounts/settings/", "settings"),
        ("/accounts/settings/mfa/", "mfa"),
        ("/accounts/settings/sessions/", "sessions"),
        ("/help/", "help"),
    ]


def test_no_main_page_scrolls_sideways_on_a_phone(
    page_factory, portal, firm, admin, staff, invited, client_record
):
    audit.record(
        firm,
        AuditEvent.Action.USER_CHANGED,
        actor=admin,
        detail=f"{staff.email}: Role: Firm user → Firm admin",
    )
    for who, pages in (
        (admin, admin_pages(client_record, staff)),
        (staff, staff_pages(client_record)),
    ):
        page = page_factory(PHONE)
        sign_in(page, portal, who)
        for path, name in pages:
            page.goto(portal + path)
            page.wait_for_load_state("load")
            if name == "not-found":  # the browser logs the 404 we asked for
                page.problems.console.remove(
                    "Failed to load resource: the server responded with a status of 404 (Not Found)"
                )
            assert_fits(page, PHONE)
            assert_accessible(page, f"{who.email} {path}")
            page.shot(f"{who.role}-{name}-375")
        page.problems.assert_none()


def test_the_menu_folds_behind_a_button_on_a_phone(page_factory, portal, admin):
    phone = page_factory(PHONE)
    sign_in(phone, portal, admin)
    menu_button = phone.get_by_role("button", name="Menu")
    nav = phone.get_by_role("navigation", name="Main menu")
    assert menu_button.is_visible()
    assert not nav.is_visible()
    header = phone.locator("header.topbar").bounding_box()
    assert header["height"] < 80, header
    phone.shot("menu-closed-375")
    menu_button.click()
    assert menu_button.get_attribute("aria-expanded") == "true"
    assert nav.get_by_role("link", name="Manage Users").is_visible()
    assert phone.get_by_role("link", name="Help").is_visible()
    assert_fits(phone, PHONE)
    assert_accessible(phone, "open menu")
    phone.shot("menu-open-375")
    phone.keyboard.press("Escape")
    assert not nav.is_visible()

    desktop = page_factory(1280)
    sign_in(desktop, portal, admin)
    assert not desktop.get_by_role("button", name="Menu").is_visible()
    assert desktop.get_by_role("navigation", name="Main menu").is_visible()
    assert desktop.get_by_role("link", name="Help").is_visible()
    desktop.shot("menu-1280")
    phone.problems.assert_none()
    desktop.problems.assert_none()


def test_without_javascript_the_phone_menu_stays_reachable(browser, portal, admin):
    context = browser.new_context(
        viewport={"width": PHONE, "height": 800}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        sign_in(page, portal, admin)
        assert page.get_by_role("navigation", name="Main menu").is_visible()
        assert not page.get_by_role("button", name="Menu").is_visible()
    finally:
        context.close()


def test_keyboard_focus_shows_in_the_dark_header(page_factory, portal, admin):
    page = page_factory(1280)
    sign_in(page, portal, admin)
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the brand, in the header
    outline = page.evaluate(
        "() => { const e = document.activeElement, s = getComputedStyle(e);"
        " return [e.className, s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
    )
    assert outline == ["brand", "solid", "3px", "rgb(255, 255, 255)"]
    page.shot("header-focus-1280")


def test_manage_users_at_both_widths(page_factory, portal, admin, staff, invited):
    for width in (1280, PHONE):
        page = page_factory(width)
        sign_in(page, portal, admin)
        page.goto(portal + "/accounts/users/")
        page.get_by_text("3 of 4 seats used").wait_for()
        assert page.get_by_text("including 1 invited user who has not signed in yet").is_visible()
        row = page.locator("tr", has_text=invited.email)
        assert row.get_by_text("Invited", exact=True).is_visible()
        # On a phone the stacked card still shows the email address
        assert page.locator("td", has_text=staff.email).first.is_visible()
        assert_fits(page, width) if width == PHONE else None
        assert_accessible(page, f"Manage Users {width}")
        page.shot(f"manage-users-{width}")
        page.problems.assert_none()
    row.get_by_role("button", name=f"Resend invitation to {invited.email}").click()
    page.get_by_text(f"A new invitation was emailed to {invited.email}.").wait_for()
    page.shot("resent-375")


def test_deactivating_says_what_happened(page_factory, portal, admin, staff):
    page = page_factory(1280)
    sign_in(page, portal, admin)
    page.goto(f"{portal}/accounts/users/{staff.pk}/")
    page.get_by_label("Active (can log in)").uncheck()
    page.get_by_role("button", name="Save changes").click()
    dialog = page.locator("dialog[open]")
    if dialog.count():
        dialog.get_by_role("button").first.click()
    if page.get_by_label("Your password").count():
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        if page.get_by_role("button", name="Save changes").count():
            page.get_by_label("Active (can log in)").uncheck()
            page.get_by_role("button", name="Save changes").click()
            if page.locator("dialog[open]").count():
                page.locator("dialog[open]").get_by_role("button").first.click()
    page.get_by_text("was deactivated and signed out everywhere").wait_for()
    page.shot("deactivated-1280")
    staff.refresh_from_db()
    assert not staff.is_active


def test_a_full_firm_is_told_before_the_add_user_form(page_factory, portal, firm, admin, staff):
    make_user(firm, "third@harbourview.example.com")
    make_user(firm, "fourth@harbourview.example.com")
    page = page_factory(PHONE)
    sign_in(page, portal, admin)
    page.goto(portal + "/accounts/users/")
    page.get_by_role("link", name="Add user (no seat free)").click()
    page.get_by_text("so no one can be added").wait_for()
    assert page.get_by_role("button", name="Add user and send invitation").count() == 0
    assert_fits(page, PHONE)
    assert_accessible(page, "full firm")
    page.shot("seats-full-375")


def test_the_audit_log_filters_pages_and_exports(page_factory, portal, firm, admin, staff):
    for number in range(30):
        audit.record(firm, AuditEvent.Action.LOGIN, actor=staff, detail=f"login {number}")
    audit.record(firm, AuditEvent.Action.CSV_IMPORTED, actor=admin, detail="=cmd|' /C calc'!A0")
    for width in (1280, PHONE):
        page = page_factory(width)
        sign_in(page, portal, admin)
        page.goto(portal + "/accounts/audit-log/")
        assert page.get_by_text("Page 1 of 2").is_visible()
        assert_accessible(page, f"audit log {width}")
        page.shot(f"audit-log-{width}")
    page.get_by_label("Event").select_option(label="Clients imported from CSV")
    page.get_by_label("Who").select_option(label=f"Alex Example ({admin.email})")
    page.get_by_role("button", name="Filter").click()
    page.get_by_text("1 event").wait_for()
    assert_fits(page, PHONE)
    page.shot("audit-log-filtered-375")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV (filtered)").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert len(rows) == 2
    assert rows[1][2] == "Clients imported from CSV"
    assert rows[1][4].startswith("'=")
    page.problems.assert_none()


def test_configure_mfa_offers_to_open_the_authenticator_app(page_factory, portal, staff):
    page = page_factory(PHONE)
    sign_in(page, portal, staff)
    response = page.goto(portal + "/accounts/settings/mfa/")
    link = page.get_by_role("link", name="Open in authenticator app")
    link.wait_for()
    assert link.get_attribute("href").startswith("otpauth://totp/")
    assert "secret=" in link.get_attribute("href")
    # A link is a navigation, which no CSP directive we send restricts.
    assert "navigate-to" not in response.headers.get("content-security-policy", "")
    assert_fits(page, PHONE)
    assert_accessible(page, "Configure MFA")
    page.shot("mfa-open-in-app-375")


def test_the_portals_own_404_shows_in_the_built_in_setup(page_factory, portal, settings, admin):
    settings.DEBUG = True
    page = page_factory(1280)
    sign_in(page, portal, admin)
    response = page.goto(portal + "/clients/999999/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert "URLconf" not in page.content()
    page.shot("not-found-1280")


def test_times_show_in_the_firms_zone(page_factory, portal, firm, admin):
    firm.time_zone = "Australia/Perth"
    firm.save(update_fields=["time_zone"])
    page = page_factory(1280)
    sign_in(page, portal, admin)
    page.goto(portal + "/accounts/audit-log/")
    assert page.get_by_text("Times are in Australia/Perth.").is_visible()
    page.goto(portal + "/accounts/users/")
    assert page.get_by_label("Your firm's time zone").input_value() == "Australia/Perth"
    page.locator("#time-zone").scroll_into_view_if_needed()
    page.shot("time-zone-1280")
