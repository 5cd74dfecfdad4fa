"""The audit log: plain labels, filters by event, person and dates (in the firm's time zone),
25 a page, a CSV export of what the filters show, and every sync run."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from accounts import audit
from accounts.models import AuditEvent
from tests.factories import make_user
from tests.queries import count_queries
from tests.xpmsync.conftest import API_URL, xero  # noqa: F401 (fixture)
from tests.xpmsync.factories import make_connection
from tests.xpmsync.test_parse import SAMPLE
from xpmsync import tasks
from xpmsync.models import SyncRun

LOG = "/accounts/audit-log/"
CSV = "/accounts/audit-log/export.csv"
SYDNEY = ZoneInfo("Australia/Sydney")


def at(firm, action, when, *, actor=None, detail=""):
    event = audit.record(firm, action, actor=actor, detail=detail)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=when)
    return event


def rows(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_log_filters_by_event(alice_client, alice, firm_a):
    audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice, detail="login-event")
    audit.record(firm_a, AuditEvent.Action.CSV_IMPORTED, actor=alice, detail="import-event")
    content = alice_client.get(LOG, {"action": "csv_imported"}).content.decode()
    assert "import-event" in content
    assert "login-event" not in content


def test_the_log_filters_by_who_did_it(alice_client, alice, bob, firm_a):
    audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice, detail="alice-event")
    audit.record(firm_a, AuditEvent.Action.LOGIN, actor=bob, detail="bob-event")
    audit.record(firm_a, AuditEvent.Action.XPM_SYNC_SUCCEEDED, detail="system-event")
    content = alice_client.get(LOG, {"actor": bob.pk}).content.decode()
    assert "bob-event" in content
    assert "alice-event" not in content and "system-event" not in content
    content = alice_client.get(LOG, {"actor": "system"}).content.decode()
    assert "system-event" in content
    assert "bob-event" not in content


def test_the_who_filter_offers_only_the_firms_people(alice_client, carol):
    content = alice_client.get(LOG).content.decode()
    assert "alice@alpha.example.com" in content
    assert "carol@bravo.example.com" not in content


def test_carols_id_in_the_who_filter_shows_nothing_of_hers(alice_client, carol, firm_b):
    audit.record(firm_b, AuditEvent.Action.LOGIN, actor=carol, detail="bravo-event")
    response = alice_client.get(LOG, {"actor": carol.pk})
    assert "bravo-event" not in response.content.decode()
    assert "bravo-event" not in alice_client.get(CSV, {"actor": carol.pk}).content.decode()


def test_the_date_range_is_whole_days_in_the_firms_time_zone(alice_client, alice, firm_a):
    # 23:30 on 1 March in Sydney is still 1 March there, though it is 12:30 UTC.
    at(firm_a, "login", datetime(2026, 3, 1, 23, 30, tzinfo=SYDNEY), detail="late-on-the-1st")
    at(firm_a, "login", datetime(2026, 3, 2, 0, 10, tzinfo=SYDNEY), detail="early-on-the-2nd")
    at(firm_a, "login", datetime(2026, 2, 28, 23, 59, tzinfo=SYDNEY), detail="end-of-feb")
    content = alice_client.get(LOG, {"since": "2026-03-01", "until": "2026-03-01"}).content
    content = content.decode()
    assert "late-on-the-1st" in content
    assert "early-on-the-2nd" not in content and "end-of-feb" not in content


def test_an_end_date_before_the_start_is_explained(alice_client):
    content = alice_client.get(LOG, {"since": "2026-03-05", "until": "2026-03-01"}).content
    assert "The end date is before the start date." in content.decode()


def test_the_log_pages_by_25(alice_client, alice, firm_a):
    for number in range(30):
        audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice, detail=f"event-{number:02d}")
    first = alice_client.get(LOG).content.decode()
    assert "event-29" in first and "event-05" in first and "event-04" not in first
    assert "Page 1 of 2" in first
    second = alice_client.get(LOG, {"page": 2}).content.decode()
    assert "event-04" in second and "event-05" not in second


def test_paging_keeps_the_filters(alice_client, alice, firm_a):
    for _ in range(30):
        audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice)
    content = alice_client.get(LOG, {"action": "login"}).content.decode()
    assert "?action=login&amp;page=2" in content


def test_the_log_page_query_count_does_not_grow(alice_client, alice, bob, firm_a):
    audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice)
    few = count_queries(alice_client, LOG)
    for _ in range(20):
        audit.record(firm_a, AuditEvent.Action.LOGIN, actor=make_user(firm_a))
    assert count_queries(alice_client, LOG) == few


def test_the_csv_export_has_what_the_filters_show_in_the_firms_time(alice_client, alice, firm_a):
    at(firm_a, "login", datetime(2026, 3, 1, 9, 5, tzinfo=SYDNEY), actor=alice, detail="kept")
    at(firm_a, "logout", datetime(2026, 3, 1, 9, 6, tzinfo=SYDNEY), actor=alice, detail="dropped")
    response = alice_client.get(CSV, {"action": "login"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert rows(response) == [
        ["When", "Time zone", "Event", "Who", "Details", "Address"],
        ["2026-03-01 09:05:00", "Australia/Sydney", "Logged in", alice.email, "kept", ""],
    ]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(alice_client, alice, firm_a):
    for detail in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx"):
        audit.record(firm_a, AuditEvent.Action.CSV_IMPORTED, actor=alice, detail=detail)
    details = [row[4] for row in rows(alice_client.get(CSV))[1:]]
    assert sorted(details) == sorted(["'=HYPERLINK(1)", "'+1", "'-1", "'@SUM(A1)", "'\tx"])


def test_the_export_link_carries_the_filters(alice_client, bob):
    content = alice_client.get(LOG, {"action": "login", "actor": bob.pk}).content.decode()
    assert f'href="{CSV}?action=login&amp;actor={bob.pk}"' in content


def test_bob_cannot_read_or_export_the_log(bob_client):
    assert bob_client.get(LOG).status_code == 403
    assert bob_client.get(CSV).status_code == 403


def test_carol_exports_only_her_firms_events(carol_client, alice, firm_a):
    audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice, detail="alpha-event")
    assert "alpha-event" not in carol_client.get(CSV).content.decode()


def test_events_show_plain_labels_and_names(alice_client, alice, firm_a):
    audit.record(firm_a, AuditEvent.Action.MFA_RESET, actor=alice, detail="bob@alpha.example.com")
    content = alice_client.get(LOG).content.decode()
    assert "MFA reset by an admin" in content
    assert "mfa_reset</td>" not in content
    assert "Alice Example" in content


# --- Sync runs ----------------------------------------------------------------------------------


def test_a_finished_sync_appears_in_the_log_with_what_it_did(firm_a, alice, xero):  # noqa: F811
    make_connection(firm_a, alice)
    xero.get(
        API_URL + "client.api/list",
        body=SAMPLE.read_text(),
        content_type="application/xml",
    )
    run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    run.refresh_from_db()
    assert run.status == "succeeded"
    event = AuditEvent.objects.get(firm=firm_a, action=AuditEvent.Action.XPM_SYNC_SUCCEEDED)
    assert event.actor == alice
    assert event.detail.startswith("Sync Now: ")
    assert f"{run.count('clients_created')} new clients" in event.detail


def test_a_failed_sync_appears_in_the_log_with_its_reason(firm_a, alice):
    run = SyncRun.objects.create(firm=firm_a, trigger=SyncRun.Trigger.SCHEDULED)
    from xpmsync.sync import run_sync

    run_sync(run.pk, firm_a.pk)
    event = AuditEvent.objects.get(firm=firm_a, action=AuditEvent.Action.XPM_SYNC_FAILED)
    assert event.actor is None
    assert event.detail.startswith("Daily sync: ")
    assert "no longer connected" in event.detail
