"""Issue 16's journey: a client imported by CSV that XPM also has is found after connecting,
merged, and becomes one client with both contacts; and the worklist of what XPM is missing."""

import pytest

from accounts.models import User
from clients.models import Client, ClientContact
from tests.factories import PASSWORD, make_firm, make_user
from tests.totp import make_device

from .conftest import assert_accessible, assert_fits, log_in
from .test_journeys import connect_through_dialogs, menu, verify_with_device

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The sandbox practice is deterministic: its second client, with this email and one contact.
XPM_NAME = "Greenfield Physio Pty Ltd (2)"
XPM_EMAIL = "client2@example.com"


def at_width(page, width, name):
    page.set_viewport_size({"width": width, "height": 900})
    page.shot(f"{name}-{width}")
    if width == 375:
        assert_fits(page)


def test_an_imported_client_xpm_also_has_is_merged_into_one(page_factory, portal, tmp_path):
    firm = make_firm("Harbour View Accounting", seat_limit=3)
    admin = make_user(firm, "alex@harbourview.example.com", role=User.Role.ADMIN, first_name="Alex")
    device = make_device(admin)
    page = page_factory()
    log_in(page, portal, admin.email, PASSWORD)
    verify_with_device(page, device)

    upload = tmp_path / "clients.csv"
    upload.write_text(
        "Client Name,First Name,Last Name,Client Email\n"
        f"Greenfield Physio (2),Jo,Bloggs,{XPM_EMAIL}\n"
    )
    page.wait_for_load_state("load")
    page.goto(portal + "/clients/import/")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("button", name="Import 1 client").click()
    page.get_by_role("heading", name="Import complete").wait_for()
    mine = Client.objects.get(firm=firm, name="Greenfield Physio (2)")

    menu(page, "Manage Clients")
    connect_through_dialogs(page)
    page.wait_for_url(f"{portal}/clients/manage/")
    assert "1 possible duplicate:" in page.content()
    page.shot("manage-clients-with-duplicates")
    page.get_by_role("link", name="Review and merge them").click()

    page.get_by_role("heading", name="Possible duplicates").wait_for()
    pair = page.locator("article.pair")
    assert pair.count() == 1
    assert "Greenfield Physio (2)" in pair.inner_text() and XPM_NAME in pair.inner_text()
    assert "Jo Bloggs" in pair.inner_text() and "Aisha Brown" in pair.inner_text()
    assert_accessible(page, "Possible duplicates")
    at_width(page, 1280, "duplicates")
    at_width(page, 375, "duplicates")
    page.set_viewport_size({"width": 1280, "height": 900})

    pair.get_by_role("button", name="Merge").click()
    page.get_by_text("one client now, with both sides’ contacts").wait_for()
    page.shot("merged")
    assert page.get_by_role("heading", name="Recent merges").is_visible()

    merged = Client.objects.get(pk=mine.pk)
    assert merged.name == XPM_NAME and merged.xpm_uuid is not None
    assert Client.objects.filter(firm=firm, name__startswith="Greenfield Physio").count() == 1
    page.wait_for_load_state("load")  # leaving earlier would cancel the page's scripts
    page.goto(f"{portal}/clients/{mine.pk}/contacts/")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert set(
        ClientContact.objects.filter(client=merged).values_list("contact__name", flat=True)
    ) == {"Aisha Brown", "Jo Bloggs"}
    assert "Not in XPM" in rows.filter(has_text="Jo Bloggs").inner_text()
    page.shot("merged-contacts")

    page.wait_for_load_state("load")
    page.goto(portal + "/clients/data-to-fix/")
    page.get_by_role("heading", name="Data to fix in XPM").wait_for()
    assert_accessible(page, "Data to fix in XPM")
    at_width(page, 1280, "worklist")
    page.get_by_role("link", name="Contacts without an email address").click()
    page.wait_for_load_state("load")
    assert "Aisha Brown" in page.content()
    at_width(page, 375, "worklist")
    page.problems.assert_none()
