"""Connecting to XPM: the OAuth flow, its refusals, the tenant choice, and where admins land."""

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

from django.core import mail
from django.db import connection as db

from accounts.models import AuditEvent
from xpmsync import oauth
from xpmsync.models import XpmConnection

from .conftest import CONNECTIONS_URL, ORG_TENANT, REVOKE_URL, TOKEN_URL, XPM_TENANT, token_body


def start(http):
    response = http.post("/xpm/connect/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    return {key: values[0] for key, values in query.items()}, response["Location"]


def answer_token_and_tenants(xero, tenants=(XPM_TENANT,), token=None):
    xero.post(TOKEN_URL, json=token or token_body())
    xero.get(CONNECTIONS_URL, json=list(tenants))


def test_connect_redirects_to_xero_with_state_and_pkce(alice_verified, xero, settings):
    params, location = start(alice_verified)
    assert location.startswith("https://login.xero.com/identity/connect/authorize?")
    assert params["client_id"] == settings.XERO_CLIENT_ID
    assert params["redirect_uri"] == settings.XERO_REDIRECT_URI
    assert set(params["scope"].split()) >= {"offline_access", "practicemanager.client.read"}
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 43  # at least 256 bits, base64url


def test_redirect_uri_never_comes_from_the_host_header(alice_verified, xero, settings):
    settings.ALLOWED_HOSTS = ["evil.example.net", "testserver"]
    response = alice_verified.post("/xpm/connect/", HTTP_HOST="evil.example.net")
    assert "evil.example.net" not in response["Location"]


def test_admin_with_mfa_connects_and_lands_on_manage_clients(
    alice_verified, alice, bob, firm_a, xero, django_capture_on_commit_callbacks
):
    answer_token_and_tenants(xero, [ORG_TENANT, XPM_TENANT])
    params, _ = start(alice_verified)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_verified.get("/xpm/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302
    assert response["Location"] == "/clients/manage/"

    token_call = next(call for call in xero.calls if call.request.url == TOKEN_URL)
    body = parse_qs(token_call.request.body)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(body["code_verifier"][0].encode()).digest())
    assert challenge.decode().rstrip("=") == params["code_challenge"]
    assert token_call.request.headers["Authorization"].startswith("Basic ")

    xpm = XpmConnection.objects.get(firm=firm_a)
    assert xpm.status == "active"
    assert (xpm.tenant_id, xpm.tenant_name) == (XPM_TENANT["tenantId"], XPM_TENANT["tenantName"])
    assert xpm.connected_by == alice
    assert xpm.access_token == "access-token-1"
    assert firm_a.requires_mfa
    assert AuditEvent.objects.filter(action="xpm_connected", firm=firm_a).exists()
    reminders = [m for m in mail.outbox if "set up multi-factor" in m.subject]
    assert [m.to for m in reminders] == [[bob.email]]


def test_tokens_are_not_readable_in_the_database(alice_verified, firm_a, xero):
    answer_token_and_tenants(xero)
    params, _ = start(alice_verified)
    alice_verified.get("/xpm/callback/", {"code": "c", "state": params["state"]})
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, refresh_token_encrypted FROM xpmsync_xpmconnection"
        )
        stored = " ".join(cursor.fetchone())
    assert "access-token-1" not in stored and "refresh-token-1" not in stored
    assert len(stored) > 100


def test_admin_without_mfa_is_sent_to_configure_mfa(alice_client, firm_a, xero):
    answer_token_and_tenants(xero)
    params, _ = start(alice_client)
    response = alice_client.get("/xpm/callback/", {"code": "c", "state": params["state"]})
    assert response["Location"] == "/accounts/settings/mfa/?next=/clients/manage/"
    assert alice_client.get("/clients/manage/")["Location"].startswith("/accounts/settings/mfa/")


def _nothing_stored(firm, xero):
    assert not XpmConnection.objects.filter(firm=firm).exists()
    assert not any(call.request.url == TOKEN_URL for call in xero.calls)
    assert not firm.requires_mfa


def test_a_tampered_state_is_refused(alice_verified, firm_a, xero):
    answer_token_and_tenants(xero)
    params, _ = start(alice_verified)
    response = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"] + "x"}, follow=True
    )
    assert response.status_code == 400
    assert "did not match" in response.content.decode()
    _nothing_stored(firm_a, xero)


def test_a_missing_state_is_refused(alice_verified, firm_a, xero):
    start(alice_verified)
    response = alice_verified.get("/xpm/callback/", {"code": "c"}, follow=True)
    assert response.status_code == 400
    _nothing_stored(firm_a, xero)


def test_a_replayed_state_is_refused(alice_verified, firm_a, xero):
    answer_token_and_tenants(xero)
    params, _ = start(alice_verified)
    alice_verified.get("/xpm/callback/", {"code": "c", "state": params["state"]})
    XpmConnection.objects.all().delete()
    replay = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    assert replay.status_code == 400
    assert "already used" in replay.content.decode()
    assert not XpmConnection.objects.exists()


def test_a_state_older_than_ten_minutes_is_refused(alice_verified, firm_a, xero):
    params, _ = start(alice_verified)
    session = alice_verified.session
    session[oauth.SESSION_KEY]["started_at"] = int(time.time()) - 601
    session.save()
    response = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    assert "more than ten minutes" in response.content.decode()
    _nothing_stored(firm_a, xero)


def test_deny_stores_nothing(alice_verified, firm_a, xero):
    params, _ = start(alice_verified)
    response = alice_verified.get(
        "/xpm/callback/", {"error": "access_denied", "state": params["state"]}, follow=True
    )
    assert "You chose not to allow access" in response.content.decode()
    _nothing_stored(firm_a, xero)


def test_carol_cannot_complete_alices_flow(alice_verified, carol_client, firm_a, firm_b, xero):
    answer_token_and_tenants(xero)
    params, _ = start(alice_verified)
    response = carol_client.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    assert response.status_code == 400
    _nothing_stored(firm_a, xero)
    _nothing_stored(firm_b, xero)


def test_an_admin_demoted_mid_flow_cannot_complete_it(alice_verified, alice, firm_a, xero):
    params, _ = start(alice_verified)
    alice.role = "user"
    alice.save()
    response = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    assert response.status_code == 400
    assert "Only a firm admin" in response.content.decode()
    _nothing_stored(firm_a, xero)


def test_bob_cannot_start_complete_or_disconnect(bob_client, firm_a, xero):
    assert bob_client.post("/xpm/connect/").status_code == 403
    assert (
        bob_client.get("/xpm/callback/", {"code": "c", "state": "s"}, follow=True).status_code
        == 400
    )
    assert bob_client.post("/xpm/disconnect/").status_code == 403
    _nothing_stored(firm_a, xero)


def test_no_practice_manager_tenant_explains_the_staff_permission(alice_verified, firm_a, xero):
    older = {**ORG_TENANT, "id": "c0a8f1e2-0000-4000-8000-0000000000ff", "authEventId": "old"}
    answer_token_and_tenants(xero, [ORG_TENANT, older], token=token_body(jwt=True))
    xero.delete(f"{CONNECTIONS_URL}/{ORG_TENANT['id']}", status=204)
    params, _ = start(alice_verified)
    response = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    content = response.content.decode()
    assert "Connect third-party add-ons" in content
    assert "Authorise 3rd Party Full Access" in content
    assert not XpmConnection.objects.filter(firm=firm_a).exists()
    # Only what this consent made is removed; revoking would end the Xero user's every
    # connection to the portal, other firms' included.
    assert not any(call.request.url == REVOKE_URL for call in xero.calls)
    deleted = [c.request.url for c in xero.calls if c.request.method == "DELETE"]
    assert deleted == [f"{CONNECTIONS_URL}/{ORG_TENANT['id']}"]


def test_several_practices_let_the_admin_choose(alice_verified, firm_a, xero):
    second = {**XPM_TENANT, "id": "other-id", "tenantId": "other-tenant", "tenantName": "Second"}
    answer_token_and_tenants(xero, [XPM_TENANT, ORG_TENANT, second])
    params, _ = start(alice_verified)
    response = alice_verified.get("/xpm/callback/", {"code": "c", "state": params["state"]})
    assert response["Location"] == "/xpm/"
    page = alice_verified.get("/xpm/").content.decode()
    assert (
        "Alpha Accounting (XPM)" in page and "Second" in page and "Alpha Accounting Ltd" not in page
    )
    assert not firm_a.requires_mfa  # nothing is connected until the admin chooses

    refused = alice_verified.post(
        "/xpm/choose/", {"tenant_id": ORG_TENANT["tenantId"]}, follow=True
    )
    assert "not one of those Xero offered" in refused.content.decode()
    alice_verified.post("/xpm/choose/", {"tenant_id": "other-tenant"})
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert (xpm.status, xpm.tenant_id, xpm.xero_connection_id) == (
        "active",
        "other-tenant",
        "other-id",
    )
    assert firm_a.requires_mfa


def test_xero_refusing_the_code_stores_nothing(alice_verified, firm_a, xero):
    xero.post(TOKEN_URL, json={"error": "invalid_grant"}, status=400)
    params, _ = start(alice_verified)
    response = alice_verified.get(
        "/xpm/callback/", {"code": "c", "state": params["state"]}, follow=True
    )
    assert response.status_code == 502
    assert "Xero refused the sign-in" in response.content.decode()
    assert not XpmConnection.objects.exists()


def test_the_callback_never_shows_a_page_at_the_address_holding_the_code(alice_verified, xero):
    """Its no-referrer policy makes browsers send a page's form POSTs with Origin: null, which
    Django's CSRF check refuses: the Log out form on a problem page would fail over HTTPS."""
    params, _ = start(alice_verified)
    response = alice_verified.get("/xpm/callback/", {"code": "c", "state": params["state"] + "x"})
    assert response.status_code == 302 and response["Location"] == "/xpm/callback/problem/"
    assert response["Referrer-Policy"] == "no-referrer"
    page = alice_verified.get("/xpm/callback/problem/")
    assert page.status_code == 400 and "did not match" in page.content.decode()
    assert "code=" not in page.wsgi_request.get_full_path()
    # Shown once: coming back later leads on, not to a stale problem.
    assert alice_verified.get("/xpm/callback/problem/").status_code == 302
