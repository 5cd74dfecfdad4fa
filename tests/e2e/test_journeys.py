"""The five journeys of issue 7, each as a person would click and type through it."""

import csv
import io

import pytest
from django.core import mail

from accounts.models import User
from clients.models import Client
from tests.factories import PASSWORD, make_firm, make_user
from tests.totp import code_for, make_device
from xpmsync.models import SyncRun, XpmConnection

from .conftest import assert_accessible, assert_fits, enrol_mfa, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def firm():
    return make_firm("Harbour View Accounting", seat_limit=3)


def menu(page, name):
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name=name, exact=True
    ).click()
    # The page's scripts (the dialogs) run before "load": clicking earlier follows the plain link.
    page.wait_for_load_state("load")


def verify_with_device(page, device, steps=0):
    page.get_by_label("Code").fill(code_for(device, steps))
    page.get_by_role("button", name="Verify").click()


def connect_through_dialogs(page):
    page.get_by_role("link", name="Xero Sync").click()
    dialog = page.locator("#mfa-dialog")
    dialog.wait_for(state="visible")
    page.shot("mfa-dialog")
    dialog.get_by_role("button", name="Continue").click()
    redirect = page.locator("#redirect-dialog")
    redirect.wait_for(state="visible")
    page.shot("redirect-dialog")
    redirect.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Allow access").wait_for()
    page.shot("sandbox-consent")
    page.get_by_role("button", name="Allow access").click()


def connect_signed_in(page, portal, admin, device) -> None:
    """Log in with the password and a code, then connect XPM through both dialogs."""
    log_in(page, portal, admin.email, PASSWORD)
    verify_with_device(page, device)
    menu(page, "Manage Clients")
    connect_through_dialogs(page)
    page.wait_for_url(f"{portal}/clients/manage/")


def test_admin_with_mfa_connects_syncs_and_disconnects(page_factory, portal, admin, firm):
    device = make_device(admin)
    page = page_factory()
    log_in(page, portal, admin.email, PASSWORD)
    assert_accessible(page, "code page")
    verify_with_device(page, device)
    menu(page, "Manage Clients")
    connect_through_dialogs(page)

    page.wait_for_url(f"{portal}/clients/manage/")
    assert "Connected to Harbour View Accounting (Sandbox)" in page.content()
    page.shot("manage-clients-connected")
    first = SyncRun.objects.get(firm=firm)
    assert (first.trigger, first.status) == ("first", "succeeded")

    menu(page, "Clients")
    rows = page.locator("tbody tr")
    assert rows.count() > 5
    page.shot("clients")
    assert_accessible(page, "clients list")
    with_contacts = Client.objects.for_firm(firm).filter(links__isnull=False).distinct().first()
    page.get_by_placeholder("Search by client name, email or contact name").fill(with_contacts.name)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=with_contacts.name).click()
    assert_accessible(page, "client details")
    page.get_by_role("link", name="Contacts").click()
    contacts = page.locator("tbody tr")
    assert contacts.count() == with_contacts.links.count()
    assert page.locator(".badge-primary").count() == 1
    page.shot("contacts-tab")
    assert_accessible(page, "client contacts")

    menu(page, "Manage Clients")
    page.get_by_role("link", name="Xero Sync").click()
    panel = page.locator("#panel-dialog")
    panel.wait_for(state="visible")
    page.shot("xero-sync-panel")
    assert_accessible(page, "Manage Clients with the Xero Sync panel")
    panel.get_by_role("button", name="Sync Now").click()
    page.get_by_text("The sync is complete").wait_for()
    page.get_by_role("link", name="Sync history").click()
    assert page.locator("tbody tr").count() == 2
    page.shot("sync-history")

    page.get_by_role("link", name="Xero Sync").click()
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Disconnect from Xero").click()
    confirm = page.locator("#disconnect-dialog")
    confirm.wait_for(state="visible")
    assert "Your synced clients stay in the portal" in confirm.inner_text()
    page.shot("disconnect-dialog")
    confirm.get_by_role("button", name="Disconnect", exact=True).click()
    page.get_by_text("Disconnected from Xero Practice Manager").wait_for()
    assert not XpmConnection.objects.filter(firm=firm).exists()
    assert Client.objects.for_firm(firm).exists()  # synced clients stay
    page.problems.assert_none()


def test_admin_without_mfa_connects_and_enrols(page_factory, portal, admin, firm):
    page = page_factory()
    log_in(page, portal, admin.email, PASSWORD)
    menu(page, "Manage Clients")
    connect_through_dialogs(page)
    page.wait_for_url(f"{portal}/accounts/settings/mfa/?next=/clients/manage/")
    page.shot("configure-mfa")
    assert_accessible(page, "Configure MFA")
    codes = enrol_mfa(page)
    assert len(codes) == 10
    page.shot("backup-codes")
    page.get_by_role("link", name="I’ve saved my codes — continue").click()
    page.wait_for_url(f"{portal}/clients/manage/")
    assert page.get_by_role("heading", name="Manage Clients").is_visible()
    page.problems.assert_none()


def test_staff_without_mfa_in_a_connected_firm_is_confined_until_enrolled(
    page_factory, portal, admin, staff, firm
):
    XpmConnection.objects.create(
        firm=firm, status="active", tenant_id="t", tenant_name="Harbour View", connected_by=admin
    )
    Client.objects.create(firm=firm, name="Greenfield Dental Partners", source="xpm")
    page = page_factory(width=375)
    log_in(page, portal, staff.email, PASSWORD)
    page.goto(portal + "/clients/")
    page.wait_for_url(f"{portal}/accounts/settings/mfa/**")
    assert "Your firm requires multi-factor authentication" in page.content()
    page.shot("confined-to-mfa")
    assert_fits(page)
    enrol_mfa(page)
    page.shot("backup-codes")
    page.get_by_role("link", name="I’ve saved my codes — continue").click()
    page.wait_for_url(f"{portal}/clients/")
    assert page.get_by_role("link", name="Greenfield Dental Partners").is_visible()
    assert_fits(page)
    page.problems.assert_none()


def test_csv_import_with_a_row_error_then_fixed(page_factory, portal, staff, firm, tmp_path):
    page = page_factory()
    log_in(page, portal, staff.email, PASSWORD)
    page.get_by_role("link", name="CSV Import").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV template").click()
    template = download.value.path().read_text()
    rows = list(csv.reader(io.StringIO(template)))
    header = rows[0]
    assert header[:4] == ["Client Name", "First Name", "Last Name", "Client Email"]

    bad = tmp_path / "clients.csv"
    good_rows = [*rows[1:], ["Coastal Tax Partners", "Mia", "Chen", "mia@coastal.example.com"]]
    bad_rows = [*good_rows, ["Blue Gum Joinery", "Ray", "Lee", "ray-at-example"]]
    bad.write_text("\n".join(",".join(r) for r in [header, *bad_rows]) + "\n")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_text("1 row needs fixing").wait_for()
    assert "“ray-at-example” is not a valid email address" in page.content()
    page.shot("preview-with-error")
    assert_accessible(page, "CSV preview")
    assert Client.objects.count() == 0

    page.get_by_role("link", name="Upload a corrected file").click()
    fixed = tmp_path / "clients-fixed.csv"
    bad_rows[-1][3] = "ray@bluegum.example.com"
    fixed.write_text("\n".join(",".join(r) for r in [header, *bad_rows]) + "\n")
    page.get_by_label("CSV file").set_input_files(str(fixed))
    page.get_by_role("button", name="Upload and preview").click()
    page.shot("preview")
    page.get_by_role("button", name="Import 4 clients").click()
    page.get_by_role("heading", name="Import complete").wait_for()
    page.get_by_role("link", name="See your clients").click()
    for name in ("Coastal Tax Partners", "Blue Gum Joinery", "Harbourline Logistics Pty Ltd"):
        assert page.get_by_role("link", name=name).is_visible()
    page.problems.assert_none()


def test_manage_users_seat_limit_and_mfa_reset(page_factory, portal, admin, staff, firm):
    make_user(firm, "third@harbourview.example.com", first_name="Third")
    staff_device = make_device(staff)
    page = page_factory()
    log_in(page, portal, admin.email, PASSWORD)
    menu(page, "Manage Users")
    assert page.get_by_text("3 of 3 seats used").is_visible()
    assert_accessible(page, "Manage Users")
    page.shot("manage-users")

    # A full firm is told before anyone fills in the form, which is not offered.
    page.get_by_role("link", name="Add user (no seat free)").click()
    page.get_by_text("using all 3 of its user seats, so no one can be added").wait_for()
    assert page.get_by_role("button", name="Add user and send invitation").count() == 0
    page.shot("seat-limit")
    assert not User.objects.filter(email="fourth@harbourview.example.com").exists()

    menu(page, "Manage Users")
    page.get_by_role("link", name="Sam Example").click()
    page.get_by_role("button", name=f"Reset MFA for {staff.email}").click()
    confirm = page.locator("#reset-mfa-dialog")
    confirm.get_by_text("will have to set up MFA again at their next login").wait_for()
    confirm.get_by_role("button", name="Reset MFA").click()
    page.get_by_text("MFA was reset").wait_for()
    assert not type(staff_device).objects.filter(user=staff).exists()
    reset_emails = [m for m in mail.outbox if m.to == [staff.email]]
    assert [m.subject for m in reset_emails] == ["Your multi-factor authentication was reset"]
    page.problems.assert_none()


def test_dialogs_work_from_the_keyboard(page_factory, portal, admin):
    device = make_device(admin)
    page = page_factory()
    log_in(page, portal, admin.email, PASSWORD)
    verify_with_device(page, device)
    page.goto(portal + "/clients/manage/")
    page.get_by_role("link", name="Xero Sync").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#mfa-dialog")
    dialog.wait_for(state="visible")
    focused_inside = page.evaluate(
        "document.getElementById('mfa-dialog').contains(document.activeElement)"
    )
    assert focused_inside
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.problems.assert_none()


def test_the_login_page_is_accessible_and_fits_a_phone(page_factory, portal):
    page = page_factory(width=375)
    page.goto(portal + "/accounts/login/")
    assert_accessible(page, "login")
    assert_fits(page)
    page.shot("login-phone")
    page.problems.assert_none()


def test_a_practice_xero_sends_without_a_name_connects_and_a_wipe_is_held(
    page_factory, portal, admin, firm
):
    """Xero's own /connections example has a PRACTICEMANAGER tenant whose tenantName is null;
    the sandbox is told so on its control page, as a developer would."""
    page = page_factory()
    page.goto(f"{portal}/xero-sandbox/")
    page.get_by_label("How Xero names XPM practices").select_option("null")
    page.get_by_role("button", name="Save scenario").click()
    page.shot("sandbox-control")

    device = make_device(admin)
    connect_signed_in(page, portal, admin, device)
    assert "Connected to Xero Practice Manager (9D3C2A5E)" in page.content()
    assert "None" not in page.locator("main").inner_text()
    synced = Client.objects.for_firm(firm).filter(is_archived=False).count()
    assert synced > 20

    # XPM now answers OK with no clients: the next sync must not archive the firm.
    page.goto(f"{portal}/xero-sandbox/")
    page.get_by_label("Failure to play back").select_option("empty_list")
    page.get_by_role("button", name="Save scenario").click()
    page.goto(f"{portal}/xpm/")
    page.get_by_text("Connected by Alex Admin, alex.admin@harbourview.example, in Xero").wait_for()
    page.get_by_role("button", name="Sync Now").click()
    page.get_by_text("The sync was held for review").wait_for()
    assert "Sync started" not in page.content()
    page.get_by_text(f"XPM returned 0 of your {synced} clients").first.wait_for()
    page.shot("sync-held-for-review")
    assert_accessible(page, "Xero Sync with a held sync")
    assert Client.objects.for_firm(firm).filter(is_archived=False).count() == synced
    # The same on a phone, where the panel must not scroll sideways.
    phone = page_factory(375)
    log_in(phone, portal, admin.email, PASSWORD)
    verify_with_device(phone, device, steps=1)
    phone.goto(f"{portal}/xpm/")
    phone.get_by_text(f"XPM returned 0 of your {synced} clients").first.wait_for()
    assert_fits(phone)
    phone.shot("sync-held-for-review-phone")
    phone.problems.assert_none()

    page.get_by_role("button", name="Keep my clients").click()
    page.get_by_text("Your clients were kept as they are").wait_for()
    assert SyncRun.objects.for_firm(firm).first().decision == "kept"
    page.problems.assert_none()


def test_a_running_sync_shows_its_progress_without_reloading(page_factory, portal, admin, firm):
    """Sync Now on one page; the panel open in another follows the run as it goes."""
    import time

    from xpmsync.sandbox.models import Scenario

    device = make_device(admin)
    page = page_factory()
    connect_signed_in(page, portal, admin, device)
    # XPM now sends a larger list, slowly, as a big practice's arrives.
    Scenario.objects.filter(pk=1).update(failure="slow", failures_left=1, client_count=4000)

    watcher = page_factory()
    log_in(watcher, portal, admin.email, PASSWORD)
    verify_with_device(watcher, device, steps=1)

    page.goto(f"{portal}/xpm/")
    page.get_by_role("button", name="Sync Now").click(no_wait_after=True)
    deadline = time.monotonic() + 20
    while not SyncRun.objects.filter(firm=firm, status="running").exists():
        assert time.monotonic() < deadline, "the sync never started"
        time.sleep(0.1)
    watcher.goto(f"{portal}/xpm/")
    watcher.evaluate("window.stillTheSamePage = true")
    progress = watcher.locator("[data-sync-progress]")
    progress.filter(has_text="Downloading the client list from XPM").or_(
        progress.filter(has_text="Applying clients")
    ).wait_for()
    watcher.shot("sync-progress")
    assert watcher.evaluate("window.stillTheSamePage") is True  # updated in place
    # When the run ends the panel reloads itself and shows the outcome.
    watcher.locator("[data-sync-status]").filter(has_text="Succeeded").wait_for(timeout=60_000)
    assert SyncRun.objects.for_firm(firm).first().status == "succeeded"
    assert Client.objects.for_firm(firm).filter(is_archived=False).count() > 3000
    watcher.problems.assert_none()
