"""SECURITY.md's sync rules that no other test states: a timeout on every HTTP call to Xero,
bounded retries with jitter, Retry-After honoured, and no tokens in task arguments."""

import io

import pytest
import requests

from xpmsync import api, credentials, sync, tasks
from xpmsync.models import SyncRun

from .conftest import API_URL, CONNECTIONS_URL, REVOKE_URL, TOKEN_URL, XPM_TENANT, token_body
from .factories import make_connection
from .test_sync import SAMPLE_XML


def test_every_call_to_xero_carries_a_timeout(firm_a, alice, xero, monkeypatch):
    sent = []
    original = requests.Session.send

    def recording_send(self, request, **kwargs):
        sent.append((request.method, request.url.split("?")[0], kwargs.get("timeout")))
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    xero.post(TOKEN_URL, json=token_body(1))
    xero.post(TOKEN_URL, json=token_body(2))
    xero.get(CONNECTIONS_URL, json=[XPM_TENANT])
    xero.delete(f"{CONNECTIONS_URL}/{XPM_TENANT['id']}", status=204)
    xero.post(REVOKE_URL, status=200)
    xero.get(API_URL + "client.api/list", body=SAMPLE_XML, content_type="application/xml")

    api.exchange_code("code", "verifier")
    api.list_connections("access-token-1")
    api.delete_connection("access-token-1", XPM_TENANT["id"])
    api.revoke("refresh-token-1")
    connection = make_connection(firm_a, alice)
    credentials.fresh_access_token(connection, force=True)
    api.XpmClient(connection.tenant_id, credentials.token_source(connection)).download_client_list(
        io.BytesIO()
    )

    assert {method for method, _url, _timeout in sent} == {"GET", "POST", "DELETE"}
    assert len(sent) == 6
    assert all(timeout for _method, _url, timeout in sent), sent


def test_retries_back_off_with_jitter_and_stay_bounded(firm_a):
    run = SyncRun(firm=firm_a, attempts=1)
    unavailable = api.Unavailable("Xero did not answer in time.")
    waits = {sync._retry_wait(run, unavailable) for _ in range(60)}
    assert min(waits) >= 30 and max(waits) <= 45 and len(waits) > 1  # jittered
    run.attempts = 3
    assert all(120 <= sync._retry_wait(run, unavailable) <= 135 for _ in range(20))
    run.attempts = 10
    assert sync._retry_wait(run, unavailable) == sync.MAX_RETRY_WAIT
    assert not sync._should_retry(SyncRun(firm=firm_a, attempts=sync.MAX_ATTEMPTS), unavailable)


@pytest.mark.parametrize("retry_after,expected", [(90, 90), (100_000, sync.MAX_RETRY_WAIT)])
def test_retry_after_is_honoured_up_to_the_cap(firm_a, retry_after, expected):
    run = SyncRun(firm=firm_a, attempts=1)
    limited = api.RateLimited(retry_after=retry_after, problem="minute")
    assert sync._retry_wait(run, limited) == expected
    assert not sync._should_retry(run, api.RateLimited(retry_after=None, problem="day"))


def test_a_queued_sync_carries_ids_only_never_tokens(firm_a, alice, monkeypatch):
    from xpmsync.tasks import sync_firm_task

    make_connection(firm_a, alice)
    queued = []
    monkeypatch.setattr(
        sync_firm_task, "apply_async", lambda *args, **kwargs: queued.append((args, kwargs))
    )
    run = tasks.request_sync(firm_a, trigger=SyncRun.Trigger.MANUAL, user=alice)
    ((args, kwargs),) = queued
    assert args == ((firm_a.pk, run.pk),)
    assert "token" not in repr(kwargs).lower()
