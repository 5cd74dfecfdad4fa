"""The Xero Sync panel, Sync Now, the history page and the status endpoint."""

from datetime import timedelta

from django.utils import timezone

from xpmsync.models import SyncRun

from .factories import make_connection
from .test_sync import serve


def test_panel_shows_the_connection_and_recent_runs(alice_verified, alice, firm_a):
    make_connection(firm_a, alice)
    SyncRun.objects.create(
        firm=firm_a, trigger="first", status="succeeded", finished_at=timezone.now(),
        counts={"clients_created": 12},
    )  # fmt: skip
    page = alice_verified.get("/xpm/").content.decode()
    for text in ("Alpha Accounting (XPM)", "Connected since", "Sync Now", "Disconnect from Xero",
                 "Next daily sync", "12 added"):  # fmt: skip
        assert text in page


def test_sync_now_runs_a_sync(alice_verified, alice, firm_a, xero):
    make_connection(firm_a, alice)
    serve(xero)
    response = alice_verified.post("/xpm/sync/", follow=True)
    # Without a worker the run has ended before the page comes back: it says how.
    assert "The sync is complete" in response.content.decode()
    run = SyncRun.objects.get()
    assert (run.trigger, run.requested_by, run.status) == ("manual", alice, "succeeded")


def test_sync_now_says_when_the_sync_failed_and_why(alice_verified, alice, firm_a, xero):
    make_connection(firm_a, alice)
    serve(xero, "Forbidden", status=403)
    page = alice_verified.post("/xpm/sync/", follow=True).content.decode()
    assert "Sync started" not in page
    assert "The sync failed: Xero refused access (403)" in page
    assert "message-error" in page


def test_sync_now_while_one_runs_says_so_and_starts_nothing(alice_verified, alice, firm_a):
    make_connection(firm_a, alice)
    SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running",
        lease_expires_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    for _ in range(2):  # a double click
        response = alice_verified.post("/xpm/sync/", follow=True)
        assert "already running" in response.content.decode()
    assert SyncRun.objects.count() == 1


def test_history_lists_runs_with_counts_and_warnings(alice_verified, alice, firm_a):
    make_connection(firm_a, alice)
    SyncRun.objects.create(
        firm=firm_a, trigger="scheduled", status="succeeded", finished_at=timezone.now(),
        counts=dict.fromkeys(SyncRun.COUNTS, 3),
        warnings=[{"kind": "no_email", "message": "1 client without an email address in XPM",
                   "names": ["Nguyễn & Müller Café"], "count": 1}],
    )  # fmt: skip
    SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="failed", finished_at=timezone.now(),
        error="XPM answered with status ERROR.",
    )  # fmt: skip
    page = alice_verified.get("/xpm/history/").content.decode()
    assert "Daily sync" in page and "Sync Now" in page
    assert "1 client without an email address in XPM" in page and "Nguyễn &amp; Müller Café" in page
    assert "XPM answered with status ERROR." in page


def test_status_endpoint_reports_the_latest_run(alice_verified, alice, firm_a):
    make_connection(firm_a, alice)
    assert alice_verified.get("/xpm/status/").json() == {"status": None}
    SyncRun.objects.create(firm=firm_a, trigger="manual", status="queued")
    assert alice_verified.get("/xpm/status/").json()["is_active"] is True


def test_carol_sees_nothing_of_alices_syncs(carol_client, alice, firm_a):
    make_connection(firm_a, alice)
    SyncRun.objects.create(firm=firm_a, trigger="manual", status="failed", error="ALPHA-ONLY")
    assert "ALPHA-ONLY" not in carol_client.get("/xpm/history/").content.decode()
    assert carol_client.get("/xpm/status/").json() == {"status": None}
    assert carol_client.post("/xpm/sync/", follow=True).status_code == 200
    assert SyncRun.objects.count() == 1  # carol has no connection, so nothing was queued


def test_a_running_sync_is_polled_until_it_ends(alice_verified, alice, firm_a):
    make_connection(firm_a, alice)
    SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running",
        lease_expires_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    page = alice_verified.get("/xpm/").content.decode()
    assert 'data-status-url="/xpm/status/" data-active' in page
    assert "js/sync_status.js" in page


def test_operators_sync_a_firm_from_the_command_line(firm_a, alice, xero):
    from io import StringIO

    from django.core.management import call_command

    make_connection(firm_a, alice)
    serve(xero)
    out = StringIO()
    call_command("sync_xpm", str(firm_a.pk), stdout=out)
    assert "Succeeded" in out.getvalue()
    assert SyncRun.objects.get().trigger == "manual"
