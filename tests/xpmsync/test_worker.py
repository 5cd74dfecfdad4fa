"""A real Celery worker on Redis runs a sync that a web request queued, against the sandbox."""

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from clients.models import Client
from gapportal.celery import app
from tests.totp import sign_in
from xpmsync.models import SyncRun

from .conftest import consent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis; CI sets REDIS_URL"),
]


def test_sync_now_is_run_by_a_worker(client, alice, firm_a, sandbox):
    sign_in(client, alice)
    consent(client)  # connecting runs the first sync in-process
    Client.objects.for_firm(firm_a).delete()

    mail.outbox.clear()
    app.conf.task_always_eager = False
    queues = ["sync", "sync_large", "default"]  # every queue: the sync, then its report
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=queues
    ):
        assert client.post("/xpm/sync/").status_code == 302
        run = SyncRun.objects.filter(firm=firm_a, trigger="manual").get()
        deadline = time.monotonic() + 60
        while (run.status in ("queued", "running") or not mail.outbox) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.25)
            run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert [m.to for m in mail.outbox] == [[alice.email]]  # the summary, from the light queue
    assert Client.objects.for_firm(firm_a).filter(source="xpm").count() == run.count(
        "clients_created"
    )
    assert run.count("clients_created") > 0
