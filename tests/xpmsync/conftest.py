from urllib.parse import urlsplit

import pytest
import responses

from tests.sandbox import point_xero_at_sandbox
from tests.totp import sign_in
from xpmsync.sandbox.models import Scenario

TOKEN_URL = "https://identity.xero.com/connect/token"
REVOKE_URL = "https://identity.xero.com/connect/revocation"
CONNECTIONS_URL = "https://api.xero.com/connections"
API_URL = "https://api.xero.com/practicemanager/3.1/"

XPM_TENANT = {
    "id": "c0a8f1e2-0000-4000-8000-000000000001",
    "tenantId": "7a1b2c3d-0000-4000-8000-000000000002",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Alpha Accounting (XPM)",
}
ORG_TENANT = {
    "id": "c0a8f1e2-0000-4000-8000-000000000003",
    "tenantId": "7a1b2c3d-0000-4000-8000-000000000004",
    "tenantType": "ORGANISATION",
    "tenantName": "Alpha Accounting Ltd",
}


def token_body(n: int = 1) -> dict:
    return {
        "access_token": f"access-token-{n}",
        "refresh_token": f"refresh-token-{n}",
        "expires_in": 1800,
        "token_type": "Bearer",
    }


@pytest.fixture
def xero(settings):
    """Xero's real addresses, answered by `responses`: the only thing the tests fake."""
    settings.XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
    settings.XERO_TOKEN_URL = TOKEN_URL
    settings.XERO_REVOCATION_URL = REVOKE_URL
    settings.XERO_CONNECTIONS_URL = CONNECTIONS_URL
    settings.XPM_API_URL = API_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def alice_verified(client, alice):
    """Alice with MFA, logged in with her password and a code."""
    return sign_in(client, alice)


@pytest.fixture
def sandbox(live_server, settings):
    point_xero_at_sandbox(settings, live_server.url)
    return Scenario.current()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def consent(client, decision="allow"):
    to_xero = client.post("/xpm/connect/")
    consent_page = client.get(path_of(to_xero["Location"]))
    assert b"Allow access" in consent_page.content
    form = {k: v for k, v in consent_page.wsgi_request.GET.items()}
    back = client.post(path_of(to_xero["Location"]), {**form, "decision": decision})
    return client.get(path_of(back["Location"]))
