"""Faults: a write failing at any step, the token endpoint down, the task queue down."""

import pytest

from clients.models import Client, ClientContact, Contact
from xpmsync import bulk, mirror, sync
from xpmsync.models import SyncRun

from .conftest import TOKEN_URL
from .factories import make_connection
from .test_sync import SAMPLE_XML, run, serve, snapshot

# Every kind of write the sync makes: inserts and updates per table (bulk.insert, bulk.update),
# and the archiving of unlisted clients, which comes after all the others.
WRITE_STEPS = [
    (Client, "insert"),
    (Client, "update"),
    (Contact, "insert"),
    (Contact, "update"),
    (ClientContact, "insert"),
    (ClientContact, "update"),
    (Client, "archive_unlisted"),
]


def _kill_at(patch, model, method: str) -> None:
    def killed(*args, **kwargs):
        raise RuntimeError(f"worker killed during {model.__name__}.{method}")

    if method == "archive_unlisted":
        patch.setattr(mirror._Mirror, "archive_unlisted", killed)
        return
    original = getattr(bulk, method)

    def write(target, rows, *args, **kwargs):
        if target is model and rows:
            killed()
        return original(target, rows, *args, **kwargs)

    patch.setattr(bulk, method, write)


@pytest.mark.parametrize("model,method", WRITE_STEPS, ids=lambda v: getattr(v, "__name__", v))
def test_a_failure_at_any_write_step_changes_nothing_and_the_next_run_succeeds(
    firm_a, alice, xero, monkeypatch, model, method
):
    make_connection(firm_a, alice)
    serve(xero)
    run(firm_a, alice)
    before = snapshot(firm_a)
    # Yesterday's practice changed every kind of row, so every write step is reached.
    changed = (
        SAMPLE_XML.replace("accounts@harbourline.example.com", "ap@harbourline.example.com")
        .replace("<Salutation>Bob</Salutation>", "<Salutation>Rob</Salutation>")
        .replace("<Position>Office Manager</Position>", "<Position>Operations</Position>")
        .replace(
            "<UUID>aa56d124-d9e0-46bb-a0e8-82d854ee0715</UUID>",
            "<UUID>aa56d124-d9e0-46bb-a0e8-82d854ee0799</UUID>",
        )
        # Daniel's contact record is replaced by a new one (a contact insert)
        .replace(
            "<UUID>249ec461-1d45-4aa1-a5fc-87f03f618014</UUID>",
            "<UUID>249ec461-1d45-4aa1-a5fc-87f03f618099</UUID>",
        )
    )
    serve(xero, changed)

    with monkeypatch.context() as patch:
        _kill_at(patch, model, method)
        failed = run(firm_a, alice)
    assert failed.status == "failed"
    assert snapshot(firm_a) == before

    serve(xero, changed)
    recovered = run(firm_a, alice)
    assert recovered.status == "succeeded", recovered.error
    assert (
        Client.objects.get(name="Harbourline Logistics Pty Ltd").email
        == "ap@harbourline.example.com"
    )


def test_the_token_endpoint_down_during_a_refresh_fails_the_run_cleanly(firm_a, alice, xero):
    make_connection(firm_a, alice, expired=True)
    for _ in range(sync.MAX_ATTEMPTS):
        xero.post(TOKEN_URL, body="Service Unavailable", status=503)
    result = run(firm_a, alice)
    assert result.status == "failed"
    assert "refresh" in result.error.lower() or "token" in result.error.lower()
    assert Client.objects.count() == 0
    assert SyncRun.objects.get().attempts == sync.MAX_ATTEMPTS


def test_sync_now_with_the_task_queue_down_says_so_and_loses_nothing(alice_verified, alice, firm_a):
    from gapportal.celery import app

    make_connection(firm_a, alice)
    saved = {
        key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_publish_retry")
    }
    app.conf.update(
        broker_url="redis://127.0.0.1:1/0",  # nothing listens on port 1
        task_always_eager=False,
        task_publish_retry=False,
    )
    _forget_broker_connections(app)
    try:
        response = alice_verified.post("/xpm/sync/", follow=True)
    finally:
        app.conf.update(saved)
        _forget_broker_connections(app)
    assert "task queue is unavailable" in response.content.decode()
    run_row = SyncRun.objects.get()
    assert run_row.status == "failed"  # not left queued: Sync Now works again once it is back
    assert "task queue" in run_row.error


def _forget_broker_connections(app) -> None:
    """Make the Celery app connect afresh, to whatever broker_url now says."""
    app._pool = None
    app.amqp._producer_pool = None
