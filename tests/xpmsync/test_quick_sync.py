"""Quick syncs between the full ones: what XPM modified since the last good run, nothing
archived for being missing, never overlapping a full run, and each change on the timeline."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients import history
from clients.models import Change, Client, Contact
from xpmsync import schedule, sync, tasks
from xpmsync.models import SyncRun, XpmConnection

from .conftest import API_URL
from .factories import make_connection

LIST_URL = API_URL + "client.api/list"


def client_xml(n: int, *, email: str = "", archived: bool = False, contact: str = "") -> str:
    contacts = (
        f"<Contacts><Contact><UUID>00000000-0000-4000-9000-{n:012d}</UUID>"
        f"<Name>{contact}</Name><Email>{contact.split()[0].lower()}@example.com</Email>"
        "<IsDeleted>No</IsDeleted><IsPrimary>Yes</IsPrimary></Contact></Contacts>"
        if contact
        else "<Contacts />"
    )
    return (
        f"<Client><UUID>00000000-0000-4000-8000-{n:012d}</UUID><Name>Client {n:03d}</Name>"
        f"<Email>{email or f'c{n}@example.com'}</Email>"
        f"<IsArchived>{'Yes' if archived else 'No'}</IsArchived><IsDeleted>No</IsDeleted>"
        f"{contacts}</Client>"
    )


def answer(xero, *clients: str) -> None:
    body = f"<Response><Status>OK</Status><Clients>{''.join(clients)}</Clients></Response>"
    xero.remove(responses.GET, LIST_URL)
    xero.get(LIST_URL, body=body, content_type="application/xml")


def run(firm, *, kind=SyncRun.Kind.FULL) -> SyncRun:
    result = tasks.request_sync(firm, trigger=SyncRun.Trigger.MANUAL, kind=kind)
    result.refresh_from_db()
    return result


def list_query(xero) -> dict:
    call = [c for c in xero.calls if c.request.url.startswith(LIST_URL)][-1]
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def synced(firm_a, alice, xero):
    """Firm A with five XPM clients, the first with a contact, from one full sync."""
    make_connection(firm_a, alice)
    answer(xero, client_xml(1, contact="Ana Smith"), *(client_xml(n) for n in range(2, 6)))
    first = run(firm_a)
    assert first.status == "succeeded" and first.count("clients_created") == 5
    return first


def test_a_quick_sync_asks_for_changes_since_the_last_good_runs_start_less_a_margin(
    firm_a, synced, xero
):
    answer(xero, client_xml(2, email="new@example.com"))
    quick = run(firm_a, kind=SyncRun.Kind.QUICK)
    assert (quick.status, quick.kind) == ("succeeded", "quick")
    assert quick.modified_since == synced.started_at - sync.QUICK_SYNC_MARGIN
    since = list_query(xero)["modifiedsince"][0]
    expected = (synced.started_at - sync.QUICK_SYNC_MARGIN).astimezone(timezone.UTC)
    assert since == expected.strftime("%Y-%m-%dT%H:%M:%S")  # XPM's format, in UTC
    assert list_query(xero)["detailed"] == ["true"]
    assert Client.objects.get(xpm_uuid__endswith="000000000002").email == "new@example.com"
    assert quick.count("clients_updated") == 1 and quick.count("clients_unchanged") == 0


def test_a_change_made_while_a_run_ran_is_picked_up_by_the_next(firm_a, synced, xero):
    # XPM stamps the change during the first run, after it began but before it listed it.
    changed_at = synced.started_at + timedelta(seconds=1)
    answer(xero, client_xml(3, email="late@example.com"))
    quick = run(firm_a, kind=SyncRun.Kind.QUICK)
    assert quick.modified_since < changed_at
    assert Client.objects.get(xpm_uuid__endswith="000000000003").email == "late@example.com"


def test_a_quick_sync_never_archives_a_client_for_being_missing(firm_a, synced, xero):
    answer(xero, client_xml(1, contact="Ana Smith"))
    quick = run(firm_a, kind=SyncRun.Kind.QUICK)
    assert quick.status == "succeeded" and quick.count("clients_archived") == 0
    assert Client.objects.for_firm(firm_a).filter(is_archived=False).count() == 5


def test_a_client_archived_in_xpm_is_archived_by_a_quick_sync_that_lists_it(firm_a, synced, xero):
    answer(xero, client_xml(4, archived=True))
    assert run(firm_a, kind=SyncRun.Kind.QUICK).count("clients_archived") == 1
    assert Client.objects.get(xpm_uuid__endswith="000000000004").is_archived


def test_a_client_gone_from_xpm_is_archived_by_the_next_full_run(firm_a, synced, xero):
    answer(xero, *(client_xml(n) for n in range(2, 6)))  # client 1 deleted in XPM
    assert run(firm_a, kind=SyncRun.Kind.QUICK).count("clients_archived") == 0
    full = run(firm_a)
    assert full.count("clients_archived") == 1
    assert Client.objects.get(xpm_uuid__endswith="000000000001").is_archived


def test_an_unchanged_practice_writes_nothing(firm_a, synced, xero):
    answer(xero)  # XPM: nothing modified since
    with CaptureQueriesContext(db) as queries:
        quick = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)
    quick.refresh_from_db()
    assert quick.status == "succeeded" and quick.changed_nothing
    written = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "UPDATE", "COPY"))]
    touched = {sql.split('"')[1] for sql in written}
    assert touched <= {"xpmsync_syncrun"}  # only the run's own row (no audit row either)
    assert not Change.objects.filter(sync_run_id=quick.pk).exists()


def test_a_quick_sync_before_any_good_run_is_a_full_one(firm_a, alice, xero):
    make_connection(firm_a, alice)
    answer(xero, client_xml(1))
    first = run(firm_a, kind=SyncRun.Kind.QUICK)
    assert (first.status, first.kind, first.modified_since) == ("succeeded", "full", None)
    assert "modifiedsince" not in list_query(xero)


def test_a_quick_and_a_full_run_never_overlap(firm_a, synced, monkeypatch):
    monkeypatch.setattr(tasks.sync_firm_task, "apply_async", lambda *a, **k: None)
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL)
    with pytest.raises(tasks.SyncAlreadyRunning):
        tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)


def test_each_change_goes_on_the_timeline_from_what_to_what(firm_a, synced, xero):
    answer(xero, client_xml(1, email="ops@example.com", contact="Ana Smith-Jones"))
    quick = run(firm_a, kind=SyncRun.Kind.QUICK)
    client = Client.objects.get(xpm_uuid__endswith="000000000001")
    contact = Contact.objects.get(xpm_uuid__endswith="000000000001")
    made = Change.objects.filter(sync_run_id=quick.pk)
    assert made.get(client=client).changes == {"email": ["c1@example.com", "ops@example.com"]}
    assert made.get(contact=contact).changes["name"] == ["Ana Smith", "Ana Smith-Jones"]
    lines = [line for entry in history.timeline(client) for line in entry.lines]
    assert "Email: c1@example.com → ops@example.com" in lines
    assert "Full name: Ana Smith → Ana Smith-Jones" in lines
    assert history.timeline(client)[0].by == "XPM sync"


def test_additions_are_read_from_the_records_and_an_archive_goes_on_the_timeline(
    firm_a, synced, xero
):
    # A sync writes no row for what it adds: the record's arrival time says it.
    assert not Change.objects.filter(sync_run_id=synced.pk).exists()
    ana = Client.objects.get(xpm_uuid__endswith="000000000001")
    assert {(e.action, e.subject, e.by) for e in history.timeline(ana)} == {
        ("Added", "Client", "XPM sync"),
        ("Added", "Contact Ana Smith", "XPM sync"),
    }
    answer(xero, *(client_xml(n) for n in range(1, 5)))
    full = run(firm_a)
    archived = Change.objects.get(sync_run_id=full.pk)
    assert archived.action == "archived" and archived.client.name == "Client 005"


def test_a_failed_run_leaves_no_timeline_entries(firm_a, synced, xero, monkeypatch):
    from xpmsync import mirror

    def killed(self):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(mirror._Mirror, "archive_unlisted", killed)
    answer(xero, client_xml(1, email="x@example.com"), *(client_xml(n) for n in range(2, 6)))
    with pytest.raises(RuntimeError):
        sync.run_sync(SyncRun.objects.create(firm=firm_a, trigger="manual").pk, firm_a.pk)
    assert Change.objects.filter(action="updated").count() == 0


def test_the_timeline_can_be_left_off_for_a_comparison(firm_a, synced, xero, settings):
    settings.XPM_TIMELINE = False
    answer(xero, client_xml(2, email="z@example.com"))
    quick = run(firm_a, kind=SyncRun.Kind.QUICK)
    assert quick.count("clients_updated") == 1
    assert not Change.objects.filter(sync_run_id=quick.pk).exists()


def _near_slot(firm, minutes):
    """A moment one minute before the firm's quick-sync slot, for an interval of ``minutes``."""
    return schedule.next_slot(firm.pk, minutes * 60, timezone.now()) - timedelta(minutes=1)


def test_quick_syncs_are_due_at_each_firms_own_interval(firm_a, synced, firm_b, carol):
    make_connection(firm_b, carol, quick_sync_minutes=15)
    SyncRun.objects.create(
        firm=firm_b, trigger="scheduled", status="succeeded", finished_at=timezone.now()
    )
    SyncRun.objects.filter(firm=firm_b).update(queued_at=timezone.now() - timedelta(minutes=20))
    SyncRun.objects.filter(firm=firm_a).update(queued_at=timezone.now() - timedelta(minutes=20))

    def quick_due(moment):
        return [d.firm_id for d in schedule.due_now(moment) if d.quick]

    assert firm_b.pk in quick_due(_near_slot(firm_b, 15))  # 20 minutes is over its interval
    at_a = _near_slot(firm_a, 60)
    # Firm A's run, 20 minutes before its slot, is too recent for an hourly quick sync.
    SyncRun.objects.filter(firm=firm_a).update(queued_at=at_a - timedelta(minutes=20))
    assert firm_a.pk not in quick_due(at_a)
    SyncRun.objects.filter(firm=firm_a).update(queued_at=at_a - timedelta(minutes=61))
    assert firm_a.pk in quick_due(at_a)
    XpmConnection.objects.filter(firm=firm_a).update(quick_sync_minutes=0)
    assert firm_a.pk not in quick_due(at_a)


def test_the_dispatcher_queues_a_quick_sync_timed_to_the_firms_slot(firm_a, synced, monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.sync_firm_task, "apply_async", lambda args, **kw: sent.append((args, kw))
    )
    at = _near_slot(firm_a, 60)
    SyncRun.objects.filter(firm=firm_a).update(queued_at=at - timedelta(hours=2))
    monkeypatch.setattr(timezone, "now", lambda: at)  # the dispatcher runs a minute before
    assert tasks.dispatch_due_syncs() == 1
    ((args, kw),) = sent
    run = SyncRun.objects.get(pk=args[1])
    assert run.kind == "quick" and run.trigger == "quick"
    assert kw["queue"] == "sync" and 55 <= kw["countdown"] <= 65  # at the slot, a minute on


def test_a_firm_due_its_full_sync_gets_that_rather_than_a_quick_one(firm_a, synced):
    SyncRun.objects.filter(firm=firm_a).update(
        queued_at=timezone.now() - timedelta(days=2),
        finished_at=timezone.now() - timedelta(days=2),
    )
    assert [d.kind for d in schedule.due_now()] == ["full"]


def test_quick_syncs_do_not_postpone_the_nightly_full_one(firm_a, synced, xero):
    two_days_ago = timezone.now() - timedelta(days=2)
    SyncRun.objects.filter(pk=synced.pk).update(finished_at=two_days_ago, queued_at=two_days_ago)
    answer(xero)
    run(firm_a, kind=SyncRun.Kind.QUICK)
    assert firm_a in list(schedule.due_firms())


def test_sync_now_offers_quick_and_full(alice_verified, firm_a, synced, xero):
    panel = alice_verified.get("/xpm/").content.decode()
    assert "Sync Now (full)" in panel and "Quick sync (changes only)" in panel
    answer(xero, client_xml(5, email="q@example.com"))
    alice_verified.post("/xpm/sync/", {"kind": "quick"})
    assert SyncRun.objects.for_firm(firm_a).first().kind == "quick"
    page = alice_verified.get("/xpm/history/").content.decode()
    assert "Quick: changes since" in page and "Full" in page


def test_admins_choose_how_often_quick_syncs_run(alice_verified, firm_a, synced, bob_client):
    alice_verified.post("/xpm/quick-syncs/", {"quick_sync_minutes": "15"})
    assert XpmConnection.objects.get(firm=firm_a).quick_sync_minutes == 15
    alice_verified.post("/xpm/quick-syncs/", {"quick_sync_minutes": "7"})  # not offered
    assert XpmConnection.objects.get(firm=firm_a).quick_sync_minutes == 15
    alice_verified.post("/xpm/quick-syncs/", {"quick_sync_minutes": "0"})
    assert XpmConnection.objects.get(firm=firm_a).quick_sync_minutes == 0
    assert "Off (the nightly full sync only)" in alice_verified.get("/xpm/").content.decode()


def test_a_runs_page_lists_what_it_changed(alice_verified, firm_a, synced, xero, carol_client):
    answer(xero, client_xml(2, email="run@example.com"))
    quick = run(firm_a, kind=SyncRun.Kind.QUICK)
    page = alice_verified.get(f"/xpm/history/{quick.pk}/").content.decode()
    assert "Client 002" in page and "Email: c2@example.com → run@example.com" in page
    assert carol_client.get(f"/xpm/history/{quick.pk}/").status_code == 404


def test_scheduled_quick_syncs_email_nobody_unless_one_starts_failing(firm_a, alice, synced, xero):
    from django.core import mail

    mail.outbox.clear()
    answer(xero, client_xml(2, email="hourly@example.com"))
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)
    assert mail.outbox == []
    xero.remove(responses.GET, LIST_URL)
    xero.get(LIST_URL, body="Forbidden", status=403)
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)
    assert [m.to for m in mail.outbox] == [[alice.email]]  # every admin: alice is the one
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)
    assert len(mail.outbox) == 1  # still failing: not told again every hour


def test_a_held_full_sync_stays_reviewable_after_later_quick_syncs(
    firm_a, alice, synced, xero, alice_verified
):
    xero.remove(responses.GET, LIST_URL)
    xero.get(
        LIST_URL, body="<Response><Status>OK</Status><Clients /></Response>",
        content_type="application/xml",
    )  # fmt: skip
    held = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    held.refresh_from_db()
    assert held.status == "held"
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)
    assert SyncRun.objects.for_firm(firm_a).first().kind == "quick"
    assert "Apply anyway" in alice_verified.get("/xpm/").content.decode()
    alice_verified.post("/xpm/held/keep/")
    held.refresh_from_db()
    assert held.decision == "kept"


def test_a_failing_full_sync_is_tried_again_hourly_and_emailed_once(firm_a, alice, synced, xero):
    from django.core import mail

    xero.remove(responses.GET, LIST_URL)
    xero.get(LIST_URL, body="Forbidden", status=403)
    SyncRun.objects.filter(pk=synced.pk).update(
        finished_at=timezone.now() - timedelta(days=2), queued_at=timezone.now() - timedelta(days=2)
    )
    mail.outbox.clear()
    assert firm_a in list(schedule.due_firms())
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    assert firm_a not in list(schedule.due_firms())  # not again at the next dispatch
    SyncRun.objects.filter(status="failed").update(finished_at=timezone.now() - timedelta(hours=2))
    assert firm_a in list(schedule.due_firms())  # an hour later
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    assert len(mail.outbox) == 1  # the admins heard once that it fails


def test_a_quick_sync_looks_for_duplicates_though_it_emails_nobody(firm_a, synced, xero):
    from django.core import mail

    from tests.factories import make_client

    make_client(firm_a, "Client 006", email="c6@example.com")  # typed in by hand meanwhile
    mail.outbox.clear()
    answer(xero, client_xml(6))
    quick = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.QUICK, kind=SyncRun.Kind.QUICK)
    quick.refresh_from_db()
    assert mail.outbox == []
    assert quick.counts.get("possible_duplicates", 0) >= 1  # "Client 006" (and look-alikes)
