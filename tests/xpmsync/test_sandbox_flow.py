"""The whole connect flow against the built-in sandbox, over real HTTP to a live server."""

import pytest

from tests.totp import sign_in
from xpmsync import credentials
from xpmsync.models import XpmConnection
from xpmsync.sandbox.models import Scenario, Token

from .conftest import consent

pytestmark = pytest.mark.django_db(transaction=True)


def test_connect_and_disconnect_against_the_sandbox(client, alice, firm_a, sandbox):
    sign_in(client, alice)
    landed = consent(client)
    assert landed.status_code == 302 and landed["Location"] == "/clients/manage/"
    xpm = XpmConnection.objects.get(firm=firm_a)
    assert xpm.tenant_name == "Harbour View Accounting (Sandbox)"
    assert Token.objects.filter(refresh_token=xpm.refresh_token, is_revoked=False).exists()
    refresh_token = xpm.refresh_token

    client.post("/xpm/disconnect/")
    assert not XpmConnection.objects.exists()
    assert Token.objects.get(refresh_token=refresh_token).is_revoked


def test_deny_in_the_sandbox_stores_nothing(client, alice, firm_a, sandbox):
    sign_in(client, alice)
    page = consent(client, decision="deny")
    assert b"You chose not to allow access" in page.content
    assert not XpmConnection.objects.exists()


def test_the_sandbox_can_play_the_missing_staff_permission(client, alice, firm_a, sandbox):
    sandbox.tenants = Scenario.Tenants.NONE
    sandbox.save()
    sign_in(client, alice)
    page = consent(client)
    assert b"Connect third-party add-ons" in page.content
    assert not XpmConnection.objects.exists()


def test_the_sandbox_rotates_refresh_tokens_and_refuses_dead_ones(client, alice, firm_a, sandbox):
    from xpmsync import api

    sign_in(client, alice)
    consent(client)
    xpm = XpmConnection.objects.get(firm=firm_a)
    first_refresh = xpm.refresh_token
    credentials.fresh_access_token(xpm, force=True)
    assert xpm.refresh_token != first_refresh
    sandbox.failure = Scenario.Failure.INVALID_GRANT
    sandbox.save()
    with pytest.raises(api.NeedsReconnect):
        credentials.fresh_access_token(xpm, force=True)
    assert XpmConnection.objects.get(pk=xpm.pk).needs_reconnect


def test_connecting_to_the_sandbox_runs_the_first_sync(client, alice, firm_a, sandbox):
    from clients.models import Client
    from xpmsync.models import SyncRun

    sign_in(client, alice)
    consent(client)
    run = SyncRun.objects.get(firm=firm_a)
    assert (run.trigger, run.status) == ("first", "succeeded")
    active = Client.objects.for_firm(firm_a).filter(is_archived=False).count()
    assert active == run.count("clients_created") > 10


@pytest.mark.parametrize(
    "failure,expected",
    [
        (Scenario.Failure.MALFORMED, "not well-formed"),
        (Scenario.Failure.STATUS_ERROR, "status ERROR"),
        (Scenario.Failure.FORBIDDEN, "Connect third-party add-ons"),
    ],
)
def test_the_sandbox_plays_back_failures(client, alice, firm_a, sandbox, failure, expected):
    from xpmsync.models import SyncRun

    sandbox.failure = failure
    sandbox.save()
    sign_in(client, alice)
    consent(client)
    run = SyncRun.objects.get(firm=firm_a)
    assert run.status == "failed" and expected in run.error


def test_the_sandbox_429_is_retried(client, alice, firm_a, sandbox):
    from xpmsync.models import SyncRun

    sandbox.failure = Scenario.Failure.RATE_LIMITED
    sandbox.failures_left = 1
    sandbox.save()
    sign_in(client, alice)
    consent(client)
    run = SyncRun.objects.get(firm=firm_a)
    assert run.status == "succeeded" and run.attempts == 2
