"""The XPM edge as Xero documents it: tenant names, /connections, identity, revocation, redirects,
content types and rate-limit problems. Fixtures follow the shapes of Xero's own examples."""

import io
import logging
import time
from pathlib import Path

import pytest
from django.core import mail

from accounts.models import AuditEvent
from clients.models import Client, Contact, is_title_only
from tests.factories import make_firm, make_user
from xpmsync import api, credentials, identity, sync, tasks
from xpmsync.models import SyncRun, XpmConnection
from xpmsync.parse import ClientRecord, ContactRecord, is_individual, parse_client_list

from .conftest import (
    API_URL,
    CONNECTIONS_URL,
    ORG_TENANT,
    REVOKE_URL,
    TOKEN_URL,
    XERO_USER,
    XPM_TENANT,
    token_body,
)
from .factories import make_connection
from .test_connect import start

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "xero-shaped-client-list.xml"
LIST_URL = API_URL + "client.api/list"


def connect(http, xero, tenants, token=None):
    xero.post(TOKEN_URL, json=token or token_body(jwt=True))
    xero.get(CONNECTIONS_URL, json=list(tenants))
    params, _ = start(http)
    return http.get("/xpm/callback/", {"code": "c", "state": params["state"]})


# --- Tenant names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "", "MISSING"], ids=["null", "empty", "missing"])
def test_a_practice_without_a_name_connects_and_gets_a_label(alice_verified, firm_a, xero, name):
    tenant = {k: v for k, v in XPM_TENANT.items() if k != "tenantName"}
    if name != "MISSING":
        tenant["tenantName"] = name
    response = connect(alice_verified, xero, [ORG_TENANT, tenant])
    assert response["Location"] == "/clients/manage/"
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert (xpm.status, xpm.tenant_name) == ("active", "")
    assert xpm.practice_label == "Xero Practice Manager (7A1B2C3D)"
    panel = alice_verified.get("/xpm/").content.decode()
    assert "Xero Practice Manager (7A1B2C3D)" in panel and "None" not in panel


def test_two_unnamed_practices_can_be_told_apart_and_chosen(alice_verified, firm_a, xero):
    first = {**XPM_TENANT, "tenantName": None}
    second = {
        **XPM_TENANT,
        "id": "c0a8f1e2-0000-4000-8000-000000000009",
        "tenantId": "9f8e7d6c-0000-4000-8000-000000000010",
        "tenantName": None,
    }
    assert connect(alice_verified, xero, [first, ORG_TENANT, second])["Location"] == "/xpm/"
    page = alice_verified.get("/xpm/").content.decode()
    assert "Xero Practice Manager (7A1B2C3D)" in page
    assert "Xero Practice Manager (9F8E7D6C)" in page
    assert "None" not in page
    alice_verified.post("/xpm/choose/", {"tenant_id": second["tenantId"]})
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert (xpm.status, xpm.tenant_id, xpm.xero_connection_id) == (
        "active",
        second["tenantId"],
        second["id"],
    )


# --- /connections is JSON ----------------------------------------------------------------------


def test_connections_are_asked_for_as_json(alice_verified, xero):
    connect(alice_verified, xero, [XPM_TENANT])
    call = next(c for c in xero.calls if c.request.url == CONNECTIONS_URL)
    assert call.request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("<html><body>Service unavailable</body></html>", "text/html"),
        ('{"tenants": []}', "application/json"),
        ('[{"id": "x", "tenantType": "PRACTICEMANAGER"}]', "application/json"),
        ("[{", "application/json"),
    ],
    ids=["html", "not-a-list", "no-tenant-id", "broken-json"],
)
def test_an_unreadable_connections_answer_stores_nothing(
    alice_verified, firm_a, xero, body, content_type
):
    xero.post(TOKEN_URL, json=token_body())
    xero.get(CONNECTIONS_URL, body=body, content_type=content_type)
    params, _ = start(alice_verified)
    response = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    assert response.status_code == 502
    assert "could not be read, so nothing was stored" in response.content.decode()
    assert not XpmConnection.objects.exists()
    assert not firm_a.requires_mfa


# --- Who connected, and revocation -------------------------------------------------------------


def test_the_id_token_records_and_shows_who_connected_in_xero(alice_verified, firm_a, xero):
    connect(alice_verified, xero, [XPM_TENANT])
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert (xpm.xero_user_id, xpm.xero_user_name, xpm.xero_user_email) == (
        XERO_USER["xero_userid"],
        "Alex Admin",
        "alex@alpha.example.com",
    )
    assert xpm.auth_event_id == XPM_TENANT["authEventId"]
    panel = alice_verified.get("/xpm/").content.decode()
    assert "Connected by Alex Admin, alex@alpha.example.com, in Xero" in panel


@pytest.mark.parametrize(
    "change",
    [{"aud": "another-app"}, {"iss": "https://evil.example"}, {"exp": int(time.time()) - 3600}],
    ids=["audience", "issuer", "expired"],
)
def test_an_id_token_not_meant_for_us_is_ignored(xero, change):
    token = token_body()
    claims = identity.claims(token["id_token"])
    from .conftest import make_jwt

    token["id_token"] = make_jwt({**claims, **change})
    assert identity.xero_user(token) is None
    assert identity.xero_user(token_body()) is not None
    assert identity.xero_user({"access_token": "x"}) is None
    assert identity.claims("not.a.jwt") == {} and identity.claims("nope") == {}


def test_disconnect_refreshes_an_expired_token_then_deletes_and_revokes(
    alice_verified, alice, firm_a, xero
):
    make_connection(firm_a, alice, expired=True)
    xero.post(TOKEN_URL, json=token_body(7))
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    xero.post(REVOKE_URL, status=200)
    alice_verified.post("/xpm/disconnect/")
    refresh, delete, revoke = xero.calls
    assert refresh.request.url == TOKEN_URL and "grant_type=refresh_token" in refresh.request.body
    fresh = refresh.response.json()["access_token"]
    assert delete.request.headers["Authorization"] == f"Bearer {fresh}"
    assert revoke.request.body == "token=refresh-token-7"  # the refreshed one
    assert not XpmConnection.objects.exists()


def test_disconnect_does_not_revoke_a_grant_another_firm_depends_on(
    alice_verified, alice, carol, firm_a, firm_b, xero
):
    make_connection(firm_a, alice)
    make_connection(
        firm_b, carol, tenant_id="other", xero_connection_id="c0a8f1e2-0000-4000-8000-0000000000b2"
    )
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    alice_verified.post("/xpm/disconnect/")
    assert [c.request.method for c in xero.calls] == ["DELETE"]
    assert not any(c.request.url == REVOKE_URL for c in xero.calls)
    assert XpmConnection.objects.get(firm=firm_b).status == "active"
    assert not XpmConnection.objects.filter(firm=firm_a).exists()


def test_disconnect_leaves_a_tenant_connection_another_firm_uses(
    alice_verified, alice, carol, firm_a, firm_b, xero
):
    make_connection(firm_a, alice)
    make_connection(firm_b, carol, xero_user_id="someone-else")
    xero.post(REVOKE_URL, status=200)
    alice_verified.post("/xpm/disconnect/")
    assert [c.request.url for c in xero.calls] == [REVOKE_URL]


def test_disconnect_without_a_known_xero_user_never_revokes(alice_verified, alice, firm_a, xero):
    make_connection(firm_a, alice, xero_user_id="")
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    alice_verified.post("/xpm/disconnect/")
    assert [c.request.method for c in xero.calls] == ["DELETE"]


# --- The callback, refreshes and redirects -----------------------------------------------------


def test_a_callback_with_neither_code_nor_error_gets_a_clear_400(alice_verified, firm_a, xero):
    params, _ = start(alice_verified)
    response = alice_verified.get("/xpm/callback/", {"state": params["state"]}, follow=True)
    assert response.status_code == 400
    assert "neither a sign-in code nor a reason" in response.content.decode()
    assert not XpmConnection.objects.exists()
    assert not xero.calls


def test_invalid_client_on_refresh_needs_attention_and_is_not_retried(firm_a, alice, xero, caplog):
    connection = make_connection(firm_a, alice, expired=True)
    xero.post(TOKEN_URL, json={"error": "invalid_client"}, status=400)
    with caplog.at_level(logging.ERROR, logger="xpmsync.credentials"):
        run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 1)
    assert "app credentials" in run.error
    connection.refresh_from_db()
    assert connection.status == "needs_attention" and connection.is_connected
    assert firm_a.requires_mfa
    assert f"XPM connection {connection.pk}" in caplog.text and "invalid_client" in caplog.text
    assert [c.request.url for c in xero.calls] == [TOKEN_URL]

    # Once the operators fix the credentials, the next sync refreshes and recovers by itself.
    xero.replace("POST", TOKEN_URL, json=token_body(3))
    xero.get(LIST_URL, body=FIXTURE.read_bytes(), content_type="text/xml; charset=utf-8")
    again = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    again.refresh_from_db()
    assert again.status == "succeeded"
    connection.refresh_from_db()
    assert connection.status == "active"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_token_revocation_and_connection_calls_never_follow_redirects(xero, status):
    elsewhere = "https://collector.example.net/steal"
    xero.post(TOKEN_URL, status=status, headers={"Location": elsewhere})
    xero.post(REVOKE_URL, status=status, headers={"Location": elsewhere})
    xero.get(CONNECTIONS_URL, status=status, headers={"Location": elsewhere})
    xero.delete(f"{CONNECTIONS_URL}/x", status=status, headers={"Location": elsewhere})
    xero.add("GET", elsewhere, json=[])
    xero.add("POST", elsewhere, json={})
    for call in (
        lambda: api.exchange_code("code", "verifier"),
        lambda: api.revoke("refresh"),
        lambda: api.list_connections("access"),
        lambda: api.delete_connection("access", "x"),
    ):
        with pytest.raises(api.XeroError, match="redirect"):
            call()
    assert not any(c.request.url.startswith(elsewhere) for c in xero.calls)


def test_a_refresh_that_redirects_is_not_followed(firm_a, alice, xero):
    connection = make_connection(firm_a, alice, expired=True)
    xero.post(TOKEN_URL, status=307, headers={"Location": "https://collector.example.net/"})
    with pytest.raises(api.XeroError, match="redirect"):
        credentials.fresh_access_token(connection)
    assert len(xero.calls) == 1


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "application/json", "text/plain"]
)
def test_a_client_list_that_is_not_xml_fails_the_run_clearly(firm_a, alice, xero, content_type):
    make_connection(firm_a, alice)
    xero.get(LIST_URL, body="<html><body>Sign in</body></html>", content_type=content_type)
    run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    run.refresh_from_db()
    assert run.status == "failed"
    assert f"XPM answered with {content_type.split(';')[0]} instead of XML" in run.error
    assert not Client.objects.for_firm(firm_a).exists()


@pytest.mark.parametrize("problem", ["appminute", "concurrent", "minute", "something-new"])
def test_rate_limit_problems_wait_for_retry_after(firm_a, problem):
    run = SyncRun(firm=firm_a, attempts=1)
    limited = api.RateLimited(retry_after=42, problem=problem)
    assert sync._should_retry(run, limited)
    assert sync._retry_wait(run, limited) == 42


@pytest.mark.parametrize("problem", ["appminute", "concurrent", ""])
def test_rate_limits_without_retry_after_back_off_briefly_jittered_and_bounded(firm_a, problem):
    run = SyncRun(firm=firm_a, attempts=1)
    limited = api.RateLimited(retry_after=None, problem=problem)
    waits = {sync._retry_wait(run, limited) for _ in range(60)}
    assert min(waits) >= 5 and max(waits) <= 10 and len(waits) > 1
    run.attempts = 20
    assert sync._retry_wait(run, limited) <= 120
    assert not sync._should_retry(SyncRun(firm=firm_a, attempts=sync.MAX_ATTEMPTS), limited)


def test_in_process_retries_wait_for_retry_after(firm_a, alice, xero, settings):
    settings.XPM_IN_PROCESS_MAX_WAIT = 15
    make_connection(firm_a, alice)
    xero.get(
        LIST_URL,
        status=429,
        headers={"Retry-After": "1", "X-Rate-Limit-Problem": "appminute"},
    )
    xero.get(LIST_URL, body=FIXTURE.read_bytes(), content_type="application/xml")
    started = time.monotonic()
    run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    elapsed = time.monotonic() - started
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert elapsed >= 1.0  # eager mode ignores countdown; the task waited itself


def test_in_process_waits_are_bounded(settings, monkeypatch):
    waited = []
    monkeypatch.setattr(sync.time, "sleep", waited.append)
    settings.XPM_IN_PROCESS_MAX_WAIT = 15
    sync.wait_in_process(600)
    sync.wait_in_process(3)
    assert waited == [15, 3]


# --- Contacts and business structures as Xero sends them ---------------------------------------


def test_the_xero_shaped_list_parses_to_exact_records():
    kereru, tane, rata, wiremu = parse_client_list(io.BytesIO(FIXTURE.read_bytes()))
    assert kereru == ClientRecord(
        uuid="5e1c7a40-3b8d-4f2a-9c61-0d2e4b6a8f10",
        name="Kereru Joinery Limited",
        email="office@kereru-joinery.example.nz",
        phone="(06) 345 1122",
        website="https://kereru-joinery.example.nz",
        address="Unit 4\n27 Totara Street",
        city="Whanganui",
        postcode="4500",
        country="New Zealand",
        postal_address="PO Box 318\nWhanganui Central",
        postal_city="Whanganui",
        postal_postcode="4541",
        business_structure="Limited Liability Company",
        client_type="Monthly Retainer",
        account_manager="Mereana Tawhiri",
        company_number="9429041234567",
        referral_source="Bank manager",
        contacts=[
            ContactRecord(
                uuid="a7d3e5f1-2b4c-4d6e-8f0a-1b2c3d4e5f60",
                name="Hemi Walker",
                salutation="Mr",
                addressee="Mr H Walker",
                email="hemi@kereru-joinery.example.nz",
                mobile="021 555 0199",
                position="Director",
                is_primary=True,
            ),
            ContactRecord(
                uuid="b8e4f6a2-3c5d-4e7f-9a1b-2c3d4e5f6a71",
                name="Ana Walker",
                salutation="Ana",
                email="ana@kereru-joinery.example.nz",
            ),
            ContactRecord(
                uuid="c9f5a7b3-4d6e-4f8a-8b2c-3d4e5f6a7b82",
                name="Former Bookkeeper",
                email="old@kereru-joinery.example.nz",
                is_deleted=True,
            ),
        ],
    )
    assert tane == ClientRecord(
        uuid="6f2d8b51-4c9e-4a3b-8d72-1e3f5c7b9a21",
        name="Tane Ropata",
        postal_address="P O Box 77",
        postal_city="Gisborne",
        postal_postcode="4040",
        business_structure="Sole Trader",
    )
    assert rata == ClientRecord(
        uuid="7a3e9c62-5daf-4b4c-9e83-2f4a6d8c0b32",
        name="Rata Family Trust",
        is_prospect=True,
        business_structure="Trust",
        job_manager="Sione Fifita",
        contacts=[
            ContactRecord(
                uuid="d0a6b8c4-5e7f-4a9b-8c3d-4e5f6a7b8c93",
                name="Moana Rata",
                salutation="Dr.",
                position="Trustee",
            )
        ],
    )
    assert wiremu == ClientRecord(
        uuid="8b4fad73-6eb0-4c5d-8f94-3a5b7e9d1c43",
        name="Wiremu Henare",
        first_name="Wiremu",
        last_name="Henare",
        is_archived=True,
        business_structure="Person",
    )
    assert [c.is_individual for c in (kereru, tane, rata, wiremu)] == [False, True, False, True]


@pytest.mark.parametrize(
    "structure,first,last,expected",
    [
        ("Individual", "", "", True),
        ("Individuals", "", "", True),
        ("Sole Trader", "", "", True),
        ("Individual / Sole Trader", "", "", True),
        ("INDIVIDUAL", "", "", True),
        ("Person", "", "", True),
        ("Company", "", "", False),
        ("Private Company", "Ann", "Lee", False),
        ("Limited Liability Company", "", "", False),
        ("Family Trust", "", "", False),
        ("Partnership", "", "", False),
        ("Deceased Estate", "", "", False),
        ("Self-Managed Super Fund", "", "", False),
        ("", "Ann", "Lee", True),
        ("", "", "Lee", True),
        ("", "", "", False),
        ("Custom structure 7", "Ann", "", True),
        ("Custom structure 7", "", "", False),
    ],
)
def test_individuals_are_told_from_renamed_business_structures(structure, first, last, expected):
    assert is_individual(structure, first, last) is expected


@pytest.mark.parametrize(
    "salutation,is_title",
    [
        ("Mr", True),
        ("mrs", True),
        ("Dr.", True),
        ("Mr & Mrs", True),
        ("Mr and Mrs", True),
        ("Sam", False),
        ("Mr Smith", False),
        ("Dr Jones", False),
        ("Dan", False),
        ("", False),
    ],
)
def test_a_salutation_that_is_only_a_title_is_recognised(salutation, is_title):
    assert is_title_only(salutation) is is_title


def test_a_synced_title_salutation_never_opens_an_email(firm_a, alice, xero):
    make_connection(firm_a, alice)
    xero.get(LIST_URL, body=FIXTURE.read_bytes(), content_type="application/xml")
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    hemi = Contact.objects.for_firm(firm_a).get(name="Hemi Walker")
    moana = Contact.objects.for_firm(firm_a).get(name="Moana Rata")
    assert hemi.salutation == "Mr" and hemi.greeting_name == "Hemi"
    assert moana.salutation == "Dr." and moana.greeting_name == "Moana"
    ana = Contact.objects.for_firm(firm_a).get(name="Ana Walker")
    assert ana.greeting_name == "Ana"
    # The primary rule is unchanged: XPM's flag first, then by salutation.
    kereru = Client.objects.for_firm(firm_a).get(name="Kereru Joinery Limited")
    assert kereru.links.get(is_primary=True).contact == hemi
    assert kereru.kind == "organisation"
    tane = Client.objects.for_firm(firm_a).get(name="Tane Ropata")
    assert tane.kind == "individual" and tane.business_structure == "Sole Trader"


def test_the_profile_shows_xpms_own_structure_label(firm_a, alice, alice_verified, xero):
    make_connection(firm_a, alice)
    xero.get(LIST_URL, body=FIXTURE.read_bytes(), content_type="application/xml")
    tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    tane = Client.objects.for_firm(firm_a).get(name="Tane Ropata")
    page = alice_verified.get(f"/clients/{tane.pk}/").content.decode()
    assert "Sole Trader · " in page


# --- Carol and bob ------------------------------------------------------------------------------


def test_a_second_firms_admin_with_the_same_xero_user_is_kept_connected(
    alice_verified, alice, firm_a, xero, django_capture_on_commit_callbacks
):
    """The whole story of point 3: two firms, one Xero user, one disconnect."""
    other_firm = make_firm("Charlie & Co", seat_limit=3)
    dana = make_user(other_firm, "dana@charlie.example.com", role="admin")
    make_connection(
        other_firm, dana, tenant_id="t-2", xero_connection_id="c0a8f1e2-0000-4000-8000-0000000000c2"
    )
    connect(alice_verified, xero, [XPM_TENANT])
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    mail.outbox.clear()
    alice_verified.post("/xpm/disconnect/")
    assert XpmConnection.objects.get(firm=other_firm).is_connected
    assert not any(c.request.url == REVOKE_URL for c in xero.calls)
    assert AuditEvent.objects.filter(firm=firm_a, action="xpm_disconnected").exists()


@pytest.mark.parametrize("still_listed", [True, False])
def test_a_403_is_told_apart_from_a_practice_disconnected_in_xero(
    firm_a, alice, xero, still_listed
):
    connection = make_connection(firm_a, alice)
    xero.get(LIST_URL, body="Forbidden", status=403)
    xero.get(CONNECTIONS_URL, json=[XPM_TENANT] if still_listed else [ORG_TENANT])
    run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    run.refresh_from_db()
    connection.refresh_from_db()
    assert run.status == "failed"
    if still_listed:
        assert "Connect third-party add-ons" in run.error
        assert connection.status == "active"
    else:
        assert "was disconnected from the portal in Xero" in run.error
        assert connection.status == "needs_reconnect"
