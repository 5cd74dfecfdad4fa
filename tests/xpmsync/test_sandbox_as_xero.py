"""The sandbox behaves as Xero documents, so local runs and browser tests meet the real thing:
null tenant names, JSON /connections, single-use refresh tokens, revocation ending every
connection of a Xero user, DELETE refusing an expired token, rate-limit headers and limits."""

import io

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from tests.totp import sign_in
from xpmsync import api, credentials
from xpmsync.models import XpmConnection
from xpmsync.sandbox.models import Connection, Scenario, Token

from .conftest import consent

pytestmark = pytest.mark.django_db(transaction=True)


def connected(client, alice, firm_a):
    sign_in(client, alice)
    consent(client)
    return XpmConnection.objects.get(firm=firm_a)


def test_null_tenant_names_connect_with_a_label(client, alice, firm_a, sandbox):
    sandbox.tenant_names = Scenario.TenantNames.NULL
    sandbox.save()
    xpm = connected(client, alice, firm_a)
    assert (xpm.status, xpm.tenant_name) == ("active", "")
    assert xpm.practice_label == "Xero Practice Manager (9D3C2A5E)"
    (described,) = api.list_connections(xpm.access_token)
    assert described["tenantName"] is None and described["tenantType"] == "PRACTICEMANAGER"


@pytest.mark.parametrize("names", ["missing", "empty"])
def test_missing_and_empty_tenant_names_are_played(client, alice, firm_a, sandbox, names):
    sandbox.tenant_names = names
    sandbox.tenants = Scenario.Tenants.SEVERAL
    sandbox.save()
    sign_in(client, alice)
    consent(client)
    page = client.get("/xpm/").content.decode()
    assert "Xero Practice Manager (9D3C2A5E)" in page and "Xero Practice Manager (1E2D3C4B)" in page
    assert "None" not in page


def test_connections_are_json_in_xeros_shape(client, alice, firm_a, sandbox, live_server):
    xpm = connected(client, alice, firm_a)
    response = requests.get(
        f"{live_server.url}/xero-sandbox/api/connections",
        headers={"Authorization": f"Bearer {xpm.access_token}"},
        timeout=10,
    )
    assert response.headers["Content-Type"] == "application/json"
    (described,) = response.json()
    assert set(described) == {
        "id",
        "authEventId",
        "tenantId",
        "tenantType",
        "tenantName",
        "createdDateUtc",
        "updatedDateUtc",
    }
    assert described["id"] == xpm.xero_connection_id
    assert described["authEventId"] == xpm.auth_event_id


def test_an_html_connections_answer_is_refused_with_a_clear_page(client, alice, firm_a, sandbox):
    sandbox.failure = Scenario.Failure.CONNECTIONS_NOT_JSON
    sandbox.save()
    sign_in(client, alice)
    page = consent(client)
    assert page.status_code == 502
    assert "could not be read, so nothing was stored" in page.content.decode()
    assert not XpmConnection.objects.exists()


def test_the_id_token_names_the_sandbox_user(client, alice, firm_a, sandbox):
    xpm = connected(client, alice, firm_a)
    assert (xpm.xero_user_name, xpm.xero_user_email) == (
        "Alex Admin",
        "alex.admin@harbourview.example",
    )


def test_refresh_tokens_are_strictly_single_use(client, alice, firm_a, sandbox):
    xpm = connected(client, alice, firm_a)
    spent = xpm.refresh_token
    credentials.fresh_access_token(xpm, force=True)
    # Someone (a second worker, a restored backup) tries the spent token again.
    with pytest.raises(api.InvalidGrant):
        api.refresh(spent)


def test_the_grace_period_toggle_lets_a_spent_token_be_retried(client, alice, firm_a, sandbox):
    sandbox.refresh_grace = True
    sandbox.save()
    xpm = connected(client, alice, firm_a)
    spent = xpm.refresh_token
    credentials.fresh_access_token(xpm, force=True)
    assert api.refresh(spent)["access_token"]


def test_revocation_ends_every_connection_of_that_xero_user(client, alice, firm_a, sandbox):
    sandbox.tenants = Scenario.Tenants.SEVERAL
    sandbox.save()
    sign_in(client, alice)
    consent(client)
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert Connection.objects.filter(xero_user="alex").count() == 3
    api.revoke(xpm.refresh_token)
    assert not Connection.objects.filter(xero_user="alex").exists()
    assert not Token.objects.filter(xero_user="alex", is_revoked=False).exists()


def test_delete_connection_refuses_an_expired_access_token(client, alice, firm_a, sandbox):
    xpm = connected(client, alice, firm_a)
    Token.objects.update(access_expires_at=timezone.now())
    with pytest.raises(api.XeroError, match="401"):
        api.delete_connection(xpm.access_token, xpm.xero_connection_id)
    assert Connection.objects.filter(pk=xpm.xero_connection_id).exists()


def test_disconnect_refreshes_first_so_the_connection_really_goes(client, alice, firm_a, sandbox):
    xpm = connected(client, alice, firm_a)
    Token.objects.update(access_expires_at=timezone.now())
    XpmConnection.objects.filter(pk=xpm.pk).update(access_token_expires_at=timezone.now())
    client.post("/xpm/disconnect/")
    assert not Connection.objects.filter(pk=xpm.xero_connection_id).exists()
    assert not XpmConnection.objects.exists()


def test_every_client_list_call_carries_the_rate_limit_headers(client, alice, firm_a, sandbox):
    xpm = connected(client, alice, firm_a)
    response = api._send(
        "GET",
        settings.XPM_API_URL + "client.api/list",
        xpm.access_token,
        tenant_id=xpm.tenant_id,
        params={"detailed": "true"},
    )
    headers = response.headers
    assert int(headers["X-MinLimit-Remaining"]) < 60
    assert int(headers["X-DayLimit-Remaining"]) < 5000
    assert int(headers["X-AppMinLimit-Remaining"]) < 10000


def test_the_sandbox_enforces_the_minute_limit_like_xero(client, alice, firm_a, sandbox):
    xpm = connected(client, alice, firm_a)
    url = settings.XPM_API_URL + "client.api/list"
    statuses = []
    # Up to two minutes' worth, in case a minute boundary passes while counting.
    for _ in range(125):
        response = api._send("GET", url, xpm.access_token, tenant_id=xpm.tenant_id)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429
    assert response.headers["X-Rate-Limit-Problem"] == "minute"
    assert int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-MinLimit-Remaining"] == "0"


def test_the_control_page_offers_each_toggle(client, sandbox, db):
    page = client.get("/xero-sandbox/").content.decode()
    for toggle in (
        "tenant_names",
        "refresh_grace",
        "connections_html",
        "invalid_client",
        "empty_list",
        "not_xml",
        "expire_access_tokens",
    ):
        assert toggle in page
    client.post(
        "/xero-sandbox/",
        {"tenants": "one", "tenant_names": "null", "refresh_grace": "on", "failure": ""},
    )
    sandbox.refresh_from_db()
    assert (sandbox.tenant_names, sandbox.refresh_grace) == ("null", True)


@pytest.mark.parametrize("spelling", ["modifiedsince", "modifiedSince"])
def test_the_sandbox_answers_modifiedsince_with_the_clients_changed_since(
    client, alice, firm_a, sandbox, spelling
):
    from datetime import timedelta

    from xpmsync.parse import parse_client_list
    from xpmsync.sandbox.models import Edit

    xpm = connected(client, alice, firm_a)
    url = settings.XPM_API_URL + "client.api/list"
    since = timezone.now() + timedelta(seconds=1)
    client.post("/xero-sandbox/", {"action": "change_clients", "how_many": "3"})
    Edit.objects.update(modified_at=since + timedelta(seconds=5))

    def listed(**params):
        response = api._send("GET", url, xpm.access_token, tenant_id=xpm.tenant_id, params=params)
        return list(parse_client_list(io.BytesIO(response.content)))

    later = listed(detailed="true", **{spelling: since.strftime("%Y-%m-%dT%H:%M:%S")})
    assert len(later) == 3
    assert {c.email for c in later} == {e.email for e in Edit.objects.all()}
    assert len(listed(detailed="true")) == sandbox.practice_size
    future = (since + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    assert listed(detailed="true", modifiedsince=future) == []


def test_the_sandbox_changes_only_clients_xpm_still_lists(client, sandbox, settings):
    """A deleted client can't be edited in XPM, so its change would never reach a sync."""
    from xpmsync.sandbox.models import Edit
    from xpmsync.sandbox.practice import clients

    settings.XPM_SANDBOX_CLIENTS = 30
    deleted = {n for n, c in enumerate(clients(30, sandbox.seed)) if c.is_deleted}
    assert deleted, "the practice should hold a deleted client for this test to mean anything"
    client.post("/xero-sandbox/", {"action": "change_clients", "how_many": "30"})
    edited = set(Edit.objects.values_list("client_number", flat=True))
    assert edited == set(range(30)) - deleted


def test_a_practice_disconnected_from_xeros_side_is_told_apart_from_a_permission(
    client, alice, firm_a, sandbox
):
    """Xero's certification checkpoint: a disconnect made in Xero is noticed, the status
    updated and the admins told (here the user removed the practice's connection in Xero)."""
    from django.core import mail

    from xpmsync import tasks
    from xpmsync.models import SyncRun

    xpm = connected(client, alice, firm_a)
    api.delete_connection(xpm.access_token, xpm.xero_connection_id)  # as Xero's own page does
    mail.outbox.clear()
    run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "was disconnected from the portal in Xero" in run.error
    assert "Connect third-party add-ons" not in run.error
    xpm.refresh_from_db()
    assert xpm.needs_reconnect
    assert any("reconnect" in m.subject.lower() for m in mail.outbox)
