"""A change made in XPM reaches the client's History tab through a quick sync."""

import pytest

from accounts.models import User
from clients.models import Change
from tests.factories import PASSWORD, make_firm, make_user
from tests.totp import make_device
from xpmsync.models import SyncRun
from xpmsync.sandbox.models import Edit

from .conftest import assert_accessible, assert_fits, log_in
from .test_journeys import connect_signed_in, verify_with_device

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_change_in_xpm_reaches_the_history_tab_by_a_quick_sync(page_factory, portal):
    firm = make_firm("Harbour View Accounting", seat_limit=3)
    admin = make_user(firm, "alex@harbourview.example.com", role=User.Role.ADMIN)
    device = make_device(admin)
    page = page_factory()
    connect_signed_in(page, portal, admin, device)

    # Someone edits a client in XPM, as the sandbox's control page lets a developer do.
    page.wait_for_load_state("networkidle")
    page.goto(f"{portal}/xero-sandbox/")
    page.get_by_label("How many clients to change").fill("1")
    page.get_by_role("button", name="Change clients in XPM now").click()
    edit = Edit.objects.get()

    page.goto(f"{portal}/xpm/")
    page.get_by_role("button", name="Quick sync (changes only)").click()
    page.get_by_text("The sync is complete").wait_for()
    quick = SyncRun.objects.for_firm(firm).first()
    assert (quick.kind, quick.status, quick.count("clients_updated")) == ("quick", "succeeded", 1)
    changed = Change.objects.get(sync_run_id=quick.pk, action="updated").client

    page.goto(f"{portal}/clients/{changed.pk}/")
    page.get_by_role("link", name="History").click()
    page.get_by_text(f"→ {edit.email}").wait_for()
    assert "by XPM sync" in page.locator("main").inner_text()
    page.shot("history-tab")
    assert_accessible(page, "History tab")
    page.wait_for_load_state("networkidle")

    phone = page_factory(375)
    log_in(phone, portal, admin.email, PASSWORD)
    verify_with_device(phone, device, steps=1)
    phone.wait_for_load_state("networkidle")  # the favicon too, before going on
    phone.goto(f"{portal}/clients/{changed.pk}/history/")
    phone.get_by_text(f"→ {edit.email}").wait_for()
    assert_fits(phone)
    phone.shot("history-tab-phone")

    # On a phone the Xero Sync panel says when the next syncs run, within the screen.
    phone.goto(f"{portal}/xpm/")
    panel = phone.locator("main").inner_text()
    assert "Next daily sync" in panel and "next about" in panel
    assert "Sync Now (quick)" in panel  # the quick sync pressed above, told from a full one
    assert_fits(phone)
    phone.shot("xero-sync-panel-phone")

    # The run's own page lists what it changed.
    page.goto(f"{portal}/xpm/history/{quick.pk}/")
    page.get_by_text(f"→ {edit.email}").wait_for()
    page.shot("run-detail")
    assert_accessible(page, "a sync run's page")
    page.problems.assert_none()
    phone.problems.assert_none()
