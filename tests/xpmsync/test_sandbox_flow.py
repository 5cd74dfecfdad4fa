"""The whole connect flow against the built-in sandbox, over real HTTP to a live server."""

from urllib.parse import urlsplit

import pytest

from tests.factories import PASSWORD
from tests.totp import code_for, make_device
from xpmsync.models import XpmConnection
from xpmsync.sandbox.models import Scenario, Token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    base = live_server.url + "/xero-sandbox"
    settings.XERO_AUTHORIZE_URL = base + "/identity/connect/authorize"
    settings.XERO_TOKEN_URL = base + "/identity/connect/token"
    settings.XERO_REVOCATION_URL = base + "/identity/connect/revocation"
    settings.XERO_CONNECTIONS_URL = base + "/api/connections"
    settings.XPM_API_URL = base + "/api/practicemanager/3.1/"
    return Scenario.current()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _log_in_with_mfa(client, user):
    device = make_device(user)
    client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    client.post("/accounts/login/code/", {"code": code_for(device)})


def _consent(client, decision="allow"):
    to_xero = client.post("/xpm/connect/")
    consent_page = client.get(_path(to_xero["Location"]))
    assert b"Allow access" in consent_page.content
    form = {k: v for k, v in consent_page.wsgi_request.GET.items()}
    back = client.post(_path(to_xero["Location"]), {**form, "decision": decision})
    return client.get(_path(back["Location"]))


def test_connect_and_disconnect_against_the_sandbox(client, alice, firm_a, sandbox):
    _log_in_with_mfa(client, alice)
    landed = _consent(client)
    assert landed.status_code == 302 and landed["Location"] == "/clients/manage/"
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert xpm.tenant_name == "Harbour View Accounting (Sandbox)"
    assert Token.objects.filter(refresh_token=xpm.refresh_token, is_revoked=False).exists()
    refresh_token = xpm.refresh_token

    client.post("/xpm/disconnect/")
    assert not XpmConnection.objects.exists()
    assert Token.objects.get(refresh_token=refresh_token).is_revoked


def test_deny_in_the_sandbox_stores_nothing(client, alice, firm_a, sandbox):
    _log_in_with_mfa(client, alice)
    page = _consent(client, decision="deny")
    assert b"You chose not to allow access" in page.content
    assert not XpmConnection.objects.exists()


def test_the_sandbox_can_play_the_missing_staff_permission(client, alice, firm_a, sandbox):
    sandbox.tenants = Scenario.Tenants.NONE
    sandbox.save()
    _log_in_with_mfa(client, alice)
    page = _consent(client)
    assert b"Connect third-party add-ons" in page.content
    assert not XpmConnection.objects.exists()


def test_the_sandbox_rotates_refresh_tokens_and_refuses_dead_ones(client, alice, firm_a, sandbox):
    from xpmsync import api

    _log_in_with_mfa(client, alice)
    _consent(client)
    xpm = XpmConnection.objects.get(firm=firm_a)
    first_refresh = xpm.refresh_token
    api.fresh_access_token(xpm, force=True)
    assert xpm.refresh_token != first_refresh
    sandbox.failure = Scenario.Failure.INVALID_GRANT
    sandbox.save()
    with pytest.raises(api.NeedsReconnect):
        api.fresh_access_token(xpm, force=True)
    assert XpmConnection.objects.get(pk=xpm.pk).needs_reconnect
