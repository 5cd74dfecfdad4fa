import base64
import json
import time
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

ISSUER = "https://identity.xero.com"
CONSENT = "d0ddcf81-0000-4000-8000-0000000000e1"
XERO_USER = {
    "xero_userid": "f1e2d3c4-0000-4000-8000-0000000000a1",
    "given_name": "Alex",
    "family_name": "Admin",
    "email": "alex@alpha.example.com",
}

# In the shape of Xero's documented /connections answer (ids, authEventId, dates).
XPM_TENANT = {
    "id": "c0a8f1e2-0000-4000-8000-000000000001",
    "authEventId": CONSENT,
    "tenantId": "7a1b2c3d-0000-4000-8000-000000000002",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Alpha Accounting (XPM)",
    "createdDateUtc": "2026-11-30T01:33:36.2717380",
    "updatedDateUtc": "2026-11-30T01:33:36.2739580",
}
ORG_TENANT = {
    "id": "c0a8f1e2-0000-4000-8000-000000000003",
    "authEventId": CONSENT,
    "tenantId": "7a1b2c3d-0000-4000-8000-000000000004",
    "tenantType": "ORGANISATION",
    "tenantName": "Alpha Accounting Ltd",
    "createdDateUtc": "2026-11-30T01:33:36.2717380",
    "updatedDateUtc": "2026-11-30T01:33:36.2739580",
}


def make_jwt(claims: dict) -> str:
    """A JWT in Xero's shape (the portal checks claims, not signatures, of what Xero sends it)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'test', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def token_body(
    n: int = 1, *, user: dict | None = XERO_USER, consent: str = CONSENT, jwt: bool = False
) -> dict:
    """A token response with an ID token for the Xero user. With ``jwt`` the access token is a
    JWT naming the consent, as Xero's are; otherwise a plain string the tests can read."""
    now = int(time.time())
    access_token = make_jwt(
        {"iss": ISSUER, "exp": now + 1800, "authentication_event_id": consent, "n": n}
    )
    body = {
        "access_token": access_token if jwt else f"access-token-{n}",
        "refresh_token": f"refresh-token-{n}",
        "expires_in": 1800,
        "token_type": "Bearer",
    }
    if user is not None:
        body["id_token"] = make_jwt(
            {"iss": ISSUER, "aud": "gap-portal-sandbox", "exp": now + 300, "sub": "s", **user}
        )
    return body


@pytest.fixture(autouse=True)
def _retries_wait_briefly_in_process(settings):
    """In-process syncs wait out each retry's countdown (bounded by this setting); the tests
    that are not about that wait keep the suite fast. test_xero_contract proves the wait."""
    settings.XPM_IN_PROCESS_MAX_WAIT = 0


@pytest.fixture
def xero(settings):
    """Xero's real addresses, answered by `responses`: the only thing the tests fake."""
    settings.XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
    settings.XERO_TOKEN_URL = TOKEN_URL
    settings.XERO_REVOCATION_URL = REVOKE_URL
    settings.XERO_CONNECTIONS_URL = CONNECTIONS_URL
    settings.XERO_ID_TOKEN_ISSUER = ISSUER
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
    landed = client.get(path_of(back["Location"]))
    if landed.get("Location") == "/xpm/callback/problem/":
        return client.get(landed["Location"])  # the callback never shows a page itself
    return landed
