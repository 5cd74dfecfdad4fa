from accounts.models import AuditEvent
from clients.models import Client
from tests.factories import make_client
from xpmsync.models import XpmConnection

from .conftest import CONNECTIONS_URL, REVOKE_URL, XPM_TENANT
from .factories import make_connection


def test_disconnect_tells_xero_drops_tokens_and_lifts_mfa(alice_verified, alice, firm_a, xero):
    make_connection(firm_a, alice)
    synced = make_client(
        firm_a, "Synced", source=Client.Source.XPM, xpm_uuid="0f6e0098-d3c3-40cd-8bdd-2f29a9933523"
    )
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    xero.post(REVOKE_URL, status=200)
    response = alice_verified.post("/xpm/disconnect/")
    assert response["Location"] == "/clients/manage/"
    assert not XpmConnection.objects.exists()
    assert not firm_a.requires_mfa
    assert [c.request.method for c in xero.calls] == ["DELETE", "POST"]
    assert xero.calls[1].request.body == "token=refresh-token-0"
    synced.refresh_from_db()
    assert str(synced.xpm_uuid) == "0f6e0098-d3c3-40cd-8bdd-2f29a9933523"
    assert AuditEvent.objects.filter(action="xpm_disconnected").exists()


def test_disconnect_works_when_xero_fails(alice_verified, alice, firm_a, xero):
    make_connection(firm_a, alice)
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=500)
    xero.post(REVOKE_URL, status=503)
    assert alice_verified.post("/xpm/disconnect/").status_code == 302
    assert not XpmConnection.objects.exists()
    assert AuditEvent.objects.filter(action="xpm_call_failed").count() == 2


def test_the_firms_own_mfa_policy_outlives_the_connection(alice_verified, alice, firm_a, xero):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    make_connection(firm_a, alice)
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    xero.post(REVOKE_URL, status=200)
    alice_verified.post("/xpm/disconnect/")
    assert firm_a.requires_mfa


def test_disconnect_is_post_only(alice_verified, alice, firm_a):
    make_connection(firm_a, alice)
    assert alice_verified.get("/xpm/disconnect/").status_code == 405
    assert XpmConnection.objects.exists()
