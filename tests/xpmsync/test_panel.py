"""The Xero Sync panel, Sync Now, the history page and the status endpoint."""

from datetime import timedelta

from django.utils import timezone
from django.utils.html import escape

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


def test_a_failed_run_says_why_in_plain_words_with_the_detail_behind_a_toggle(
    alice_verified, alice, firm_a, xero
):
    make_connection(firm_a, alice)
    serve(xero, "<Response><Status>OK</Status><Clients><Client><UUID>")
    alice_verified.post("/xpm/sync/")
    run = SyncRun.objects.get()
    assert run.error.startswith("XPM's client list could not be read: The response was cut off")
    assert "press Sync Now to try again" in run.error
    assert "Premature end of data" not in run.error
    assert run.error_detail.startswith("XpmResponseError: ") and "Premature" in run.error_detail
    panel = alice_verified.get("/xpm/").content.decode()
    assert 'status-bad">Failed' in panel and escape(run.error) in panel
    assert "<summary>Details</summary>" in panel and "Premature end of data" in panel


def test_a_run_that_changed_nothing_says_no_changes(alice_verified, alice, firm_a, xero):
    make_connection(firm_a, alice)
    serve(xero)
    alice_verified.post("/xpm/sync/")
    alice_verified.post("/xpm/sync/")
    latest = SyncRun.objects.first()
    assert latest.changed_nothing and not SyncRun.objects.last().changed_nothing
    panel = alice_verified.get("/xpm/").content.decode()
    assert "Succeeded</span>" in panel and "No changes" in panel


def test_a_running_sync_shows_its_progress_and_the_status_endpoint_reports_it(
    alice_verified, alice, firm_a
):
    from xpmsync import progress

    make_connection(firm_a, alice)
    run = SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running",
        lease_expires_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    progress.downloading(run.pk, 3 * 2**20)
    assert (
        "Downloading the client list from XPM: 3.0 MB so far"
        in alice_verified.get("/xpm/").content.decode()
    )
    progress.applying(run.pk, 4000, 10214)
    state = alice_verified.get("/xpm/status/").json()
    assert state["is_active"] and state["progress"] == "Applying clients: 4,000 of 10,214"


def test_a_sync_reports_its_progress_as_it_goes(alice, firm_a, xero, monkeypatch):
    from xpmsync import progress, tasks

    seen = []
    original = progress.applying
    monkeypatch.setattr(
        progress,
        "applying",
        lambda run_id, applied, total: (
            seen.append((applied, total)) or original(run_id, applied, total)
        ),
    )
    make_connection(firm_a, alice)
    serve(xero)
    run = tasks.request_sync(firm_a, trigger="manual", user=alice)
    assert seen == [(0, 6), (6, 6)]
    assert progress.describe(run.pk) == ""  # cleared once the run ended


def test_clients_are_counted_across_a_chunk_boundary():
    import io

    from xpmsync.sync import _count_clients

    body = b"<Response><Clients>" + b" " * (2**20 - 22) + b"<Client></Client>" * 3
    spool = io.BytesIO(body)
    assert body.index(b"<Client>") < 2**20 < body.index(b"<Client>") + 8
    assert _count_clients(spool) == 3 and spool.tell() == 0
