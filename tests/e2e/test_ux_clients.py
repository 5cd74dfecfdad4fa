"""Issue 15 in the Clients area as a person sees it, at 1280 and 375 px: deleting a client, the
CSV preview and summary, who client emails come from, advice for staff, joining a connected
firm, and searches that also match prospects."""

import re
from email import message_from_bytes, policy

import pytest
from django.core import mail

from accounts.models import User
from accounts.users import invite_user
from clients.models import Client
from tests.factories import PASSWORD, add_contact, make_client, make_firm, make_user
from tests.totp import code_for, make_device
from tests.xpmsync.factories import make_connection

from .conftest import assert_accessible, assert_fits, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 375)


@pytest.fixture
def firm():
    return make_firm("Harbour View Accounting", seat_limit=5)


@pytest.fixture
def admin(firm):
    return make_user(
        firm, "alex@harbourview.example.com", role=User.Role.ADMIN, first_name="Alex",
        last_name="Admin",
    )  # fmt: skip


@pytest.fixture
def staff(firm):
    return make_user(firm, "sam@harbourview.example.com", first_name="Sam", last_name="Lee")


def sign_in(page, portal, user) -> None:
    """Log in and let the landing page finish loading (a navigation would abort its scripts)."""
    log_in(page, portal, user.email, PASSWORD)
    page.wait_for_url(lambda url: "/accounts/login/" not in url or "/code/" in url)
    page.wait_for_load_state("load")


def sign_in_with_code(page, portal, user, device) -> None:
    sign_in(page, portal, user)
    page.get_by_label("Code").fill(code_for(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state("load")


def check(page, name: str, width: int) -> None:
    """Screenshot, axe-core and, on a phone, no sideways scroll."""
    page.shot(f"{name}-{width}")
    assert_accessible(page, f"{name} at {width} px")
    if width < 600:
        assert_fits(page, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_deleting_a_client_asks_first_and_names_what_goes(page_factory, portal, admin, firm, width):
    record = make_client(firm, "Old Mill Bakery", email="hello@oldmill.example.com")
    add_contact(record, "Gregor Hallstrom")
    add_contact(record, "Ilse Hallstrom")
    page = page_factory(width)
    sign_in(page, portal, admin)
    page.goto(f"{portal}/clients/{record.pk}/")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Delete client").click()
    dialog = page.locator("#delete-client-dialog")
    dialog.get_by_text("Old Mill Bakery and its 2 contacts are deleted from the portal").wait_for()
    check(page, "delete-client-dialog", width)
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    assert Client.objects.filter(pk=record.pk).exists()
    page.get_by_role("button", name="Delete client").click()
    dialog.get_by_role("button", name="Delete client").click()
    page.get_by_text("Old Mill Bakery was deleted.").wait_for()
    assert not Client.objects.filter(pk=record.pk).exists()
    page.problems.assert_none()


OLDER_TEMPLATE = (
    "Client Name,First Name,Last Name,Client Email\n"
    "Harbourline Logistics,Robert,Tennant,rob@harbourline.example.com\n"
    "Harbourline Logistics,Amelia,Chen,amelia@harbourline.example.com\n"
    "Daniel Whitcombe,Daniel,Whitcombe,d.whitcombe@example.net\n"
)


def _upload(page, portal, path) -> None:
    page.goto(f"{portal}/clients/import/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_csv_preview_and_summary_agree_and_a_stale_preview_is_refused(
    page_factory, portal, staff, tmp_path, width
):
    bad = tmp_path / "clients-with-error.csv"
    bad.write_text(OLDER_TEMPLATE + "Blue Gum Joinery,Ray,Lee,ray-at-example\n")
    good = tmp_path / "clients.csv"
    good.write_text(OLDER_TEMPLATE)
    page = page_factory(width)
    sign_in(page, portal, staff)

    _upload(page, portal, bad)
    page.get_by_text("1 row needs fixing").wait_for()
    assert "What the other rows would do" in page.content()
    summary = page.locator(".summary-line")
    assert summary.inner_text().startswith(
        "2 new clients · 0 existing clients matched · 3 contacts"
    )
    assert "takes each as that contact’s own email" in page.content()
    check(page, "preview-with-error", width)

    _upload(page, portal, good)
    first_preview = page.url
    _upload(page, portal, good)  # a second preview of the same file, left open in this tab
    second_preview = page.url
    page.get_by_role("button", name="Import 2 clients and 3 contacts").wait_for()
    check(page, "preview", width)

    other_tab = page.context.new_page()
    other_tab.goto(first_preview)
    other_tab.get_by_role("button", name="Import 2 clients and 3 contacts").click()
    other_tab.get_by_role("heading", name="Import complete").wait_for()
    assert (
        other_tab.locator(".summary-line")
        .inner_text()
        .endswith("2 new clients created · 0 existing clients matched · 3 contacts added")
    )
    other_tab.close()

    # The first preview was applied meanwhile: this one no longer does what it shows.
    page.get_by_role("button", name="Import 2 clients and 3 contacts").click()
    page.get_by_text("your client list changed since this preview was shown").wait_for()
    assert page.url == second_preview
    assert "There is nothing to import" in page.content()
    assert page.get_by_role("button", name=re.compile("Import 0")).count() == 0
    check(page, "stale-preview", width)
    assert Client.objects.count() == 2

    page.goto(first_preview + "done/")
    check(page, "summary", width)
    page.problems.assert_none()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_email_to_a_client_comes_from_the_sender_and_firm(
    page_factory, portal, staff, firm, width
):
    record = make_client(firm, "Harbourline Logistics", email="accounts@harbourline.example.com")
    add_contact(record, "Robert Tennant", email="rob@harbourline.example.com")
    page = page_factory(width)
    sign_in(page, portal, staff)
    page.goto(f"{portal}/clients/{record.pk}/email/")
    page.get_by_text("From: Sam Lee, Harbour View Accounting").wait_for()
    check(page, "email-client", width)
    page.get_by_label("Subject").fill("Your tax return")
    page.get_by_role("button", name="Send email").click()
    page.get_by_text("Your email to rob@harbourline.example.com was sent.").wait_for()
    (sent,) = mail.outbox
    parsed = message_from_bytes(sent.message().as_bytes(), policy=policy.default)
    (sender,) = parsed["From"].addresses
    assert sender.display_name == "Sam Lee, Harbour View Accounting"
    assert parsed["Reply-To"] == staff.email
    page.problems.assert_none()


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_are_told_to_ask_their_admin_by_name(page_factory, portal, admin, staff, firm, width):
    make_connection(firm, admin)
    record = make_client(firm, "Greenfield Dental Partners", source=Client.Source.XPM)
    add_contact(record, "Zoe Brown")
    add_contact(record, "Adam Smith")
    page = page_factory(width)
    sign_in_with_code(page, portal, staff, make_device(staff))
    for path, name in (
        (f"/clients/{record.pk}/contacts/", "contacts"),
        (f"/clients/{record.pk}/email/", "no-email"),
    ):
        page.goto(portal + path)
        page.wait_for_load_state("load")
        main = page.locator("main").inner_text()
        assert "ask your admin (Alex Admin) to press Sync Now" in main
        assert "Manage Clients" not in main
        check(page, f"staff-{name}", width)
    page.problems.assert_none()


@pytest.mark.parametrize("width", WIDTHS)
def test_joining_a_connected_firm_names_mfa_and_signs_the_user_in(
    page_factory, portal, admin, firm, width
):
    make_connection(firm, admin)
    dana = invite_user(
        firm, by=admin, user=User(email="dana@harbourview.example.com", first_name="Dana")
    )
    (invitation,) = mail.outbox
    assert "requires multi-factor authentication (MFA) because it is connected to Xero" in (
        " ".join(invitation.body.split())
    )
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", invitation.body).group(0)
    mail.outbox.clear()
    page = page_factory(width)
    assert link.startswith(portal)  # links are built from SITE_URL, here the live server
    page.goto(link)
    check(page, "invitation-accept", width)
    page.locator("#id_new_password1").fill("dana-chooses-a-long-one")
    page.locator("#id_new_password2").fill("dana-chooses-a-long-one")
    page.get_by_role("button", name="Set password and continue").click()
    page.wait_for_url(f"{portal}/accounts/settings/mfa/**")
    assert "Your firm requires multi-factor authentication" in page.content()
    check(page, "invited-user-configures-mfa", width)
    assert mail.outbox == []  # no "your password was changed" alarm
    dana.refresh_from_db()
    assert dana.has_usable_password()
    page.problems.assert_none()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_search_that_also_matches_a_prospect_offers_to_show_it(
    page_factory, portal, staff, firm, width
):
    make_client(firm, "Greenfield Joinery")
    make_client(firm, "Greenfield Dental Partners", is_prospect=True)
    page = page_factory(width)
    sign_in(page, portal, staff)
    page.get_by_role("searchbox").fill("greenfield")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("1 prospect matches —").wait_for()
    assert page.get_by_role("link", name="Greenfield Dental Partners").count() == 0
    check(page, "search-hint", width)
    page.locator(".search-elsewhere").get_by_role("link", name="show").click()
    page.get_by_role("link", name="Greenfield Dental Partners").wait_for()
    assert page.get_by_label("Show").input_value() == "prospects"
    check(page, "search-prospects", width)
    page.problems.assert_none()
