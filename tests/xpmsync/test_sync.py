"""The sync against `responses` fixtures: what it creates, changes, archives, and never does."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from clients.models import Client, ClientContact, Contact
from xpmsync import bulk, mirror, sync, tasks
from xpmsync.models import SyncRun

from .conftest import API_URL
from .factories import make_connection
from .test_parse import SAMPLE

LIST_URL = API_URL + "client.api/list"
SAMPLE_XML = SAMPLE.read_text()


@pytest.fixture
def connected(firm_a, alice, xero):
    make_connection(firm_a, alice)
    return xero


def serve(xero, body=SAMPLE_XML, status=200, headers=None):
    xero.get(
        LIST_URL, body=body, status=status, headers=headers or {}, content_type="application/xml"
    )


def run(firm, user=None, trigger=SyncRun.Trigger.MANUAL):
    result = tasks.request_sync(firm, trigger=trigger, user=user)
    result.refresh_from_db()
    return result


def snapshot(firm):
    clients = list(Client.objects.for_firm(firm).order_by("pk").values())
    contacts = list(Contact.objects.for_firm(firm).order_by("pk").values())
    links = list(ClientContact.objects.for_firm(firm).order_by("pk").values())
    return clients, contacts, links


def primary_of(firm, name):
    link = ClientContact.objects.get(client__firm=firm, client__name=name, is_primary=True)
    return link.contact.name


def test_first_sync_of_the_sample(connected, firm_a, alice):
    serve(connected)
    result = run(firm_a, alice, SyncRun.Trigger.FIRST)
    assert result.status == "succeeded", result.error
    names = set(Client.objects.for_firm(firm_a).values_list("name", flat=True))
    assert names == {
        "Daniel Whitcombe",
        "Harbourline Logistics Pty Ltd",
        "Greenfield Dental Partners",
        "Bright Spark Electrical Pty Ltd",  # prospects sync
        "Nguyễn & Müller Café Pty Ltd",
    }  # the archived trust is not added
    assert Client.objects.get(name="Bright Spark Electrical Pty Ltd").is_prospect
    daniel = Client.objects.get(name="Daniel Whitcombe")
    assert (
        daniel.kind == "individual"
        and daniel.source == "xpm"
        and daniel.account_manager == "Priya Raman"
    )
    assert Contact.objects.for_firm(firm_a).count() == 9
    assert primary_of(firm_a, "Daniel Whitcombe") == "Daniel Whitcombe"  # flagged in XPM
    assert primary_of(firm_a, "Harbourline Logistics Pty Ltd") == "Robert Tennant"  # "Bob"
    assert primary_of(firm_a, "Greenfield Dental Partners") == "Nadia Farouk"
    assert ClientContact.objects.get(contact__name="Amelia Chen").position == "Office Manager"
    assert result.counts["clients_created"] == 5 and result.counts["contacts_created"] == 9
    assert result.api_calls == 1
    kinds = {w["kind"]: w for w in result.warnings}
    assert kinds["no_email"]["names"] == ["Nguyễn & Müller Café Pty Ltd"]


def test_a_rerun_with_the_same_data_writes_nothing(connected, firm_a, alice):
    serve(connected)
    run(firm_a, alice)
    before = snapshot(firm_a)
    serve(connected)
    with CaptureQueriesContext(db) as queries:
        second = run(firm_a, alice)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if re.match(r'\s*(INSERT INTO|UPDATE|DELETE FROM|COPY) "clients_', q["sql"])
    ]
    assert writes == []
    assert snapshot(firm_a) == before
    assert second.counts["clients_unchanged"] == 5 and second.counts["clients_updated"] == 0


def test_changes_in_xpm_are_mirrored(connected, firm_a, alice):
    serve(connected)
    run(firm_a, alice)
    changed = (
        SAMPLE_XML.replace("accounts@harbourline.example.com", "finance@harbourline.example.com")
        # Robert Tennant is removed from Harbourline
        .replace(
            "<UUID>d6c4927a-f77e-417f-bc6c-3c1a8e186055</UUID>",
            "<UUID>d6c4927a-f77e-417f-bc6c-3c1a8e186055</UUID><IsDeleted>Yes</IsDeleted>",
            1,
        )
        # Greenfield is archived in XPM
        .replace(
            "<Name>Greenfield Dental Partners</Name>",
            "<Name>Greenfield Dental Partners</Name><IsArchived>Yes</IsArchived>",
        )
    )
    # Bright Spark disappears from the list altogether.
    changed = re.sub(r"<!-- 4\..*?</Client>", "", changed, flags=re.S)
    serve(connected, changed)
    result = run(firm_a, alice)
    assert result.status == "succeeded", result.error
    harbour = Client.objects.get(name="Harbourline Logistics Pty Ltd")
    assert harbour.email == "finance@harbourline.example.com"
    assert "Robert Tennant" not in harbour.links.values_list("contact__name", flat=True)
    assert primary_of(firm_a, "Harbourline Logistics Pty Ltd") == "Amelia Chen"  # "Ms Chen"
    assert Client.objects.get(name="Greenfield Dental Partners").is_archived
    assert Client.objects.get(name="Bright Spark Electrical Pty Ltd").is_archived
    assert result.counts["clients_archived"] == 2
    assert result.counts["contacts_unlinked"] == 1
    assert result.counts["clients_updated"] >= 1


def test_a_client_that_comes_back_is_restored(connected, firm_a, alice):
    archived = SAMPLE_XML.replace(
        "<Name>Daniel Whitcombe</Name>",
        "<Name>Daniel Whitcombe</Name><IsArchived>Yes</IsArchived>",
        1,
    )
    serve(connected)
    run(firm_a, alice)
    serve(connected, archived)
    run(firm_a, alice)
    assert Client.objects.get(name="Daniel Whitcombe").is_archived
    serve(connected)
    result = run(firm_a, alice)
    assert not Client.objects.get(name="Daniel Whitcombe").is_archived
    assert result.counts["clients_restored"] == 1


def test_clients_are_matched_on_uuid_never_on_name(connected, firm_a, alice):
    manual = Client.objects.create(firm=firm_a, name="Daniel Whitcombe", source="manual")
    serve(connected)
    run(firm_a, alice)
    assert Client.objects.filter(name="Daniel Whitcombe").count() == 2
    manual.refresh_from_db()
    assert manual.source == "manual" and manual.xpm_uuid is None


def test_a_failure_half_way_leaves_the_database_as_it_was(connected, firm_a, alice, monkeypatch):
    serve(connected)
    run(firm_a, alice)
    before = snapshot(firm_a)
    changed = SAMPLE_XML.replace("Daniel Whitcombe", "Daniel R Whitcombe")
    serve(connected, changed)

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    original = bulk.insert
    monkeypatch.setattr(
        bulk,
        "insert",
        lambda model, *a, **k: explode() if model is ClientContact else original(model, *a, **k),
    )
    result = run(firm_a, alice)
    assert result.status == "failed"
    assert "unexpectedly" in result.error
    assert snapshot(firm_a) == before


@pytest.mark.parametrize(
    "body,reason",
    [
        ("<Response><Status>OK</Status><Clients><Client><UUID>", "not well-formed"),
        (
            "<Response><Status>ERROR</Status>"
            "<ErrorDescription>Bad tenant</ErrorDescription></Response>",
            "Bad tenant",
        ),
    ],
)
def test_bad_xml_fails_the_run_and_changes_nothing(connected, firm_a, alice, body, reason):
    serve(connected)
    run(firm_a, alice)
    before = snapshot(firm_a)
    serve(connected, body)
    result = run(firm_a, alice)
    assert result.status == "failed" and reason in result.error
    assert snapshot(firm_a) == before


def test_429_waits_for_retry_after_and_tries_again(connected, firm_a, alice):
    serve(connected, "", status=429, headers={"Retry-After": "7", "X-Rate-Limit-Problem": "minute"})
    serve(connected)
    result = run(firm_a, alice)
    assert result.status == "succeeded"
    assert result.attempts == 2 and result.api_calls == 2


def test_xpm_answering_429_for_minutes_backs_off_stops_within_its_bound_and_reports(
    connected, firm_a, alice, monkeypatch
):
    waits = []
    original = sync._retry_wait

    def recording_wait(run, error):
        waits.append(original(run, error))
        return waits[-1]

    monkeypatch.setattr(sync, "_retry_wait", recording_wait)
    for _ in range(sync.MAX_ATTEMPTS + 2):
        serve(
            connected,
            "",
            status=429,
            headers={"Retry-After": "45", "X-Rate-Limit-Problem": "minute"},
        )
    result = run(firm_a, alice)
    assert result.status == "failed" and result.attempts == sync.MAX_ATTEMPTS
    assert waits == [45] * (sync.MAX_ATTEMPTS - 1)  # Xero's Retry-After, between attempts
    assert "limit was reached" in result.error and Client.objects.count() == 0
    assert "failed" in mail.outbox[-1].subject.lower()


def test_a_day_limit_429_defers_instead_of_retrying(connected, firm_a, alice):
    serve(connected, "", status=429, headers={"Retry-After": "3600", "X-Rate-Limit-Problem": "day"})
    result = run(firm_a, alice)
    assert result.status == "failed" and result.attempts == 1
    assert "daily limit" in result.error


def test_500s_are_retried_a_bounded_number_of_times(connected, firm_a, alice):
    for _ in range(sync.MAX_ATTEMPTS + 2):
        serve(connected, "oops", status=500)
    result = run(firm_a, alice)
    assert result.status == "failed"
    assert result.attempts == sync.MAX_ATTEMPTS
    assert Client.objects.count() == 0


def test_a_500_then_success(connected, firm_a, alice):
    serve(connected, "oops", status=503)
    serve(connected)
    result = run(firm_a, alice)
    assert result.status == "succeeded" and result.attempts == 2


def test_403_gives_the_staff_permission_guidance(connected, firm_a, alice):
    serve(connected, "Forbidden", status=403)
    result = run(firm_a, alice)
    assert result.status == "failed"
    assert "Connect third-party add-ons" in result.error
    assert "Connect third-party add-ons" in mail.outbox[-1].body


def test_401_refreshes_the_token_and_retries_once(connected, firm_a, alice):
    from .conftest import TOKEN_URL, token_body

    serve(connected, "Unauthorized", status=401)
    serve(connected)
    connected.post(TOKEN_URL, json=token_body(5))
    result = run(firm_a, alice)
    assert result.status == "succeeded"
    list_calls = [c for c in connected.calls if c.request.url.startswith(LIST_URL)]
    assert [c.request.headers["Authorization"] for c in list_calls] == [
        "Bearer access-token-0",
        "Bearer access-token-5",
    ]
    assert list_calls[0].request.headers["Xero-tenant-id"]


def test_the_summary_email(connected, firm_a, alice):
    serve(connected)
    run(firm_a, alice)
    summary = mail.outbox[-1]
    assert summary.to == [alice.email]
    assert summary.subject == "XPM sync complete: Alpha Accounting"
    assert "Clients: 5 added" in summary.body
    assert "Nguyễn & Müller Café Pty Ltd" in summary.body  # no email address
    assert summary.alternatives[0][1] == "text/html"


def test_a_failed_daily_sync_emails_every_admin(connected, firm_a, alice):
    from tests.factories import make_user

    other_admin = make_user(firm_a, "other@alpha.example.com", role="admin")
    serve(connected, "<Response><Status>ERROR</Status></Response>")
    run(firm_a, None, SyncRun.Trigger.SCHEDULED)
    failed = [m for m in mail.outbox if m.subject.startswith("XPM sync failed")]
    assert sorted(m.to[0] for m in failed) == sorted([alice.email, other_admin.email])


def test_one_sync_at_a_time(firm_a, alice, connected):
    SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running", lease_expires_at="2999-01-01T00:00Z"
    )
    with pytest.raises(tasks.SyncAlreadyRunning):
        tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    assert SyncRun.objects.count() == 1


def test_a_run_whose_worker_died_is_recovered(connected, firm_a, alice):
    from django.utils import timezone

    ran_out = timezone.now() - tasks.TAKEOVER_GRACE - timedelta(seconds=1)
    dead = SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running", lease_expires_at=ran_out
    )
    serve(connected)
    result = run(firm_a, alice)
    assert result.status == "succeeded"
    dead.refresh_from_db()
    assert dead.status == "failed" and "interrupted" in dead.error


def test_a_run_the_recovery_fails_is_logged_and_reported_saying_what_happened(
    connected, firm_a, alice
):
    from django.core import mail
    from django.utils import timezone

    from accounts.models import AuditEvent

    now = timezone.now()
    SyncRun.objects.create(
        firm=firm_a, trigger="manual", requested_by=alice, status="running",
        lease_expires_at=now - tasks.TAKEOVER_GRACE - timedelta(seconds=1),
    )  # fmt: skip
    mail.outbox.clear()
    assert tasks.recover_stale_runs(firm_a) == 1
    assert tasks.recover_stale_runs(firm_a) == 0
    dead = SyncRun.objects.get(firm=firm_a)
    assert (dead.status, dead.error, dead.lease_expires_at) == ("failed", tasks.INTERRUPTED, None)
    failed = AuditEvent.objects.filter(firm=firm_a, action=AuditEvent.Action.XPM_SYNC_FAILED)
    assert [e.detail for e in failed] == [f"Sync Now: {tasks.INTERRUPTED}"]
    assert [m.to for m in mail.outbox] == [[alice.email]]  # who pressed Sync Now hears of it

    # A queued run no worker took within two hours says so, rather than "interrupted".
    waited = SyncRun.objects.create(
        firm=firm_a, trigger="manual", requested_by=alice,
        queued_at=now - tasks.QUEUE_TIMEOUT - timedelta(seconds=1),
    )  # fmt: skip
    assert tasks.recover_stale_runs(firm_a) == 1
    waited.refresh_from_db()
    assert (waited.status, waited.error) == ("failed", tasks.NEVER_STARTED)
    assert len(mail.outbox) == 2


def test_a_redelivered_task_takes_over_a_run_whose_worker_died(connected, firm_a):
    from django.utils import timezone

    dead = SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running", attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    serve(connected)
    assert sync.run_sync(dead.pk, firm_a.pk).status == "succeeded"
    dead.refresh_from_db()
    assert dead.attempts == 2


def test_a_redelivered_task_waits_for_a_live_worker_then_for_nothing(connected, firm_a):
    from django.utils import timezone

    held = SyncRun.objects.create(
        firm=firm_a, trigger="manual", status="running", attempts=1,
        lease_expires_at=timezone.now() + timedelta(minutes=3),
    )  # fmt: skip
    with pytest.raises(sync.RetryLater) as later:
        sync.run_sync(held.pk, firm_a.pk)
    assert 180 <= later.value.countdown <= 186 and not later.value.counts_as_attempt
    # A run whose worker died on every attempt is not taken over again: recovery fails it.
    SyncRun.objects.filter(pk=held.pk).update(
        attempts=sync.MAX_ATTEMPTS, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert sync.run_sync(held.pk, firm_a.pk) is None


def test_a_run_is_claimed_once(connected, firm_a, alice):
    serve(connected)
    first = run(firm_a, alice)
    assert sync.run_sync(first.pk, firm_a.pk) is None  # a redelivered task finds it done


def test_a_disconnect_during_the_sync_wins(connected, firm_a, alice, monkeypatch):
    from xpmsync.models import XpmConnection

    serve(connected)
    original = mirror._Mirror._apply_links

    def disconnect_midway(*args, **kwargs):
        XpmConnection.objects.filter(firm=firm_a).delete()
        return original(*args, **kwargs)

    monkeypatch.setattr(mirror._Mirror, "_apply_links", disconnect_midway)
    result = run(firm_a, alice)
    assert result.status == "failed" and "disconnected" in result.error
    assert Client.objects.count() == 0
