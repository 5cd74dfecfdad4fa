"""A list that would wipe a firm is held for review: nothing changes until an admin decides."""

import pytest
import responses
from django.core import mail

from accounts.models import AuditEvent
from clients.models import Client
from xpmsync import review, schedule, tasks
from xpmsync.models import SyncRun

from .conftest import API_URL
from .factories import make_connection

LIST_URL = API_URL + "client.api/list"


def practice(count: int, *, archived: int = 0) -> str:
    """A detailed list of ``count`` clients, the last ``archived`` of them archived in XPM."""
    clients = "".join(
        f"<Client><UUID>00000000-0000-4000-8000-{n:012d}</UUID><Name>Client {n:03d}</Name>"
        f"<Email>c{n}@example.com</Email>"
        f"<IsArchived>{'Yes' if n >= count - archived else 'No'}</IsArchived>"
        "<IsDeleted>No</IsDeleted><Contacts /></Client>"
        for n in range(count)
    )
    return f'<Response api-method="List"><Status>OK</Status><Clients>{clients}</Clients></Response>'


def answer(xero, body: str) -> None:
    """XPM's answer from now on."""
    xero.remove(responses.GET, LIST_URL)
    xero.get(LIST_URL, body=body, content_type="application/xml")


def run(firm, user=None, trigger=SyncRun.Trigger.MANUAL) -> SyncRun:
    result = tasks.request_sync(firm, trigger=trigger, user=user)
    result.refresh_from_db()
    return result


def active_clients(firm) -> int:
    return Client.objects.for_firm(firm).filter(is_archived=False).count()


@pytest.fixture
def synced_40(firm_a, alice, xero):
    """Firm A connected, its 40 XPM clients synced."""
    make_connection(firm_a, alice)
    answer(xero, practice(40))
    assert run(firm_a, alice).status == "succeeded"
    assert active_clients(firm_a) == 40
    mail.outbox.clear()
    return xero


def test_an_empty_ok_list_is_held_and_changes_nothing(firm_a, alice, bob, synced_40):
    answer(synced_40, "<Response><Status>OK</Status><Clients /></Response>")
    held = run(firm_a, alice)
    assert held.status == "held"
    assert held.counts == {"listed_clients": 0, "synced_clients": 40, "would_archive": 40}
    assert active_clients(firm_a) == 40
    assert "XPM returned 0 of your 40 clients" in held.error
    assert AuditEvent.objects.filter(firm=firm_a, action="xpm_sync_held").exists()
    # Every admin hears of it, not only whoever pressed Sync Now.
    (email,) = mail.outbox
    assert email.to == [alice.email] and "held for review" in email.subject
    assert "XPM returned 0 of your 40 clients" in email.body
    assert "/xpm/" in email.body


def test_a_list_missing_most_clients_is_held(firm_a, alice, synced_40, alice_verified):
    answer(synced_40, practice(3))
    held = run(firm_a, alice)
    assert held.status == "held" and held.counts["would_archive"] == 37
    assert active_clients(firm_a) == 40
    panel = alice_verified.get("/xpm/").content.decode()
    assert "XPM returned 3 of your 40 clients" in panel
    assert "Apply anyway" in panel and "Keep my clients" in panel


def test_clients_archived_in_xpm_count_towards_the_hold(firm_a, alice, synced_40):
    answer(synced_40, practice(40, archived=25))
    assert run(firm_a, alice).status == "held"
    assert active_clients(firm_a) == 40


def test_a_small_change_is_applied_as_usual(firm_a, alice, synced_40):
    # 19 archived: fewer than the 20 a hold needs, though more than 10% of 40.
    answer(synced_40, practice(21))
    done = run(firm_a, alice)
    assert done.status == "succeeded" and done.count("clients_archived") == 19
    assert active_clients(firm_a) == 21


def test_the_share_that_holds_is_a_setting(firm_a, alice, synced_40, settings):
    settings.XPM_HOLD_MIN_CLIENTS = 5
    settings.XPM_HOLD_SHARE = 0.5
    answer(synced_40, practice(25))  # 15 of 40 archived: under half
    assert run(firm_a, alice).status == "succeeded"
    answer(synced_40, practice(5))  # 20 of the 25 left: over half
    assert run(firm_a, alice).status == "held"


def test_a_first_sync_of_an_empty_practice_is_not_held(firm_a, alice, xero):
    make_connection(firm_a, alice)
    answer(xero, "<Response><Status>OK</Status><Clients /></Response>")
    assert run(firm_a, alice, trigger=SyncRun.Trigger.FIRST).status == "succeeded"


def test_apply_anyway_applies_the_list_and_records_the_decision(
    firm_a, alice, synced_40, alice_verified
):
    answer(synced_40, practice(3))
    held = run(firm_a, alice)
    response = alice_verified.post("/xpm/held/apply/")
    assert response["Location"] == "/xpm/"
    held.refresh_from_db()
    assert (held.decision, held.decided_by) == ("applied", alice)
    applied = SyncRun.objects.for_firm(firm_a).first()
    assert (applied.trigger, applied.status) == ("reviewed", "succeeded")
    assert applied.count("clients_archived") == 37
    assert active_clients(firm_a) == 3
    audit = AuditEvent.objects.get(firm=firm_a, action="xpm_sync_reviewed")
    assert audit.actor == alice and "Applied anyway" in audit.detail


def test_keep_my_clients_keeps_them_and_later_syncs_hold_again(
    firm_a, alice, synced_40, alice_verified
):
    answer(synced_40, practice(3))
    held = run(firm_a, alice)
    alice_verified.post("/xpm/held/keep/")
    held.refresh_from_db()
    assert held.decision == "kept"
    assert "Apply anyway" not in alice_verified.get("/xpm/").content.decode()
    scheduled = run(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    assert scheduled.status == "held"
    assert active_clients(firm_a) == 40
    assert "Apply anyway" in alice_verified.get("/xpm/").content.decode()


def test_scheduled_runs_keep_holding_until_an_admin_decides(firm_a, alice, synced_40):
    answer(synced_40, practice(0))
    first = run(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    second = run(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    assert first.status == second.status == "held"
    assert active_clients(firm_a) == 40
    assert review.awaiting_review(firm_a) == second


def test_a_held_run_is_not_retried_every_hour(firm_a, alice, synced_40):
    answer(synced_40, practice(0))
    run(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    assert firm_a not in list(schedule.due_firms())


def test_a_decision_is_taken_once(firm_a, alice, synced_40, alice_verified):
    answer(synced_40, practice(3))
    run(firm_a, alice)
    alice_verified.post("/xpm/held/keep/")
    again = alice_verified.post("/xpm/held/apply/", follow=True)
    assert "no held sync waiting" in again.content.decode()
    assert active_clients(firm_a) == 40


def test_bob_cannot_decide_and_carol_cannot_touch_alices_hold(
    firm_a, alice, bob, synced_40, verified, carol_client
):
    answer(synced_40, practice(3))
    held = run(firm_a, alice)
    bob_client = verified(bob)
    assert bob_client.post("/xpm/held/apply/").status_code == 403
    assert bob_client.post("/xpm/held/keep/").status_code == 403
    carol_client.post("/xpm/held/apply/")
    carol_client.post("/xpm/held/keep/")
    held.refresh_from_db()
    assert held.decision == "" and active_clients(firm_a) == 40


def test_deciding_is_post_only(firm_a, alice, synced_40, alice_verified):
    assert alice_verified.get("/xpm/held/apply/").status_code == 405
    assert alice_verified.get("/xpm/held/keep/").status_code == 405


# --- Sudo mode: Apply anyway and Disconnect need a recent password or code ----------------------


def _stale(http) -> None:
    from tests.accounts.test_sudo import age_session

    age_session(http)


def test_apply_anyway_without_a_recent_password_or_code_asks_first(
    firm_a, alice, synced_40, alice_verified
):
    answer(synced_40, practice(3))
    held = run(firm_a, alice)
    _stale(alice_verified)
    response = alice_verified.post("/xpm/held/apply/", {"next": "/xpm/"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/confirm/")
    held.refresh_from_db()
    assert held.decision == "" and active_clients(firm_a) == 40


def test_disconnect_without_a_recent_password_or_code_asks_first(
    firm_a, alice, synced_40, alice_verified
):
    _stale(alice_verified)
    response = alice_verified.post("/xpm/disconnect/", {"next": "/xpm/"})
    assert response["Location"].startswith("/accounts/confirm/")
    assert firm_a.is_connected_to_xpm


def test_the_panel_names_what_disconnecting_and_applying_do(
    firm_a, alice, synced_40, alice_verified
):
    answer(synced_40, practice(3))
    run(firm_a, alice)
    panel = alice_verified.get("/xpm/").content.decode()
    assert 'data-opens="disconnect-dialog"' in panel and 'data-opens="apply-held-dialog"' in panel
    assert "Syncing from Alpha Accounting (XPM) stops now" in panel
    assert "37 of your 40 clients would be archived now" in panel
