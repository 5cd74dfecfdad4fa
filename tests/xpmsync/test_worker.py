"""A real Celery worker on Redis runs a sync that a web request queued, against the sandbox; a
worker with a pool of threads runs several firms' syncs at once, as the sync workers do."""

import os
import threading
import time
import uuid

import pytest
import responses
from celery.contrib.testing.worker import start_worker
from django.core import mail

from accounts.models import User
from clients.models import Client
from gapportal.celery import app
from tests.factories import make_firm, make_user
from tests.totp import sign_in
from xpmsync import tasks
from xpmsync.models import SyncRun

from .conftest import API_URL, consent
from .factories import make_connection
from .test_sync import SAMPLE_XML

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


def test_a_threads_worker_runs_several_firms_syncs_at_once(xero):
    """Sync workers run threads (a sync mostly waits for Xero): while one firm's list is on its
    way, the same worker process is already syncing the others."""

    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slow_list(request):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(1.5)  # Xero takes its time to answer
        with lock:
            in_flight[0] -= 1
        return 200, {}, SAMPLE_XML

    xero.add_callback(
        responses.GET, API_URL + "client.api/list", callback=slow_list,
        content_type="application/xml",
    )  # fmt: skip
    firms = [make_firm(f"Threaded firm {n}") for n in range(3)]
    for firm in firms:
        admin = make_user(firm, role=User.Role.ADMIN)
        tenant = str(uuid.uuid4())
        make_connection(firm, admin, tenant_id=tenant, xero_connection_id=f"c-{tenant}")

    app.conf.task_always_eager = False
    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30,
        queues=["sync", "sync_large", "default"],
    ):  # fmt: skip
        runs = [tasks.request_sync(firm, trigger=SyncRun.Trigger.MANUAL) for firm in firms]
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and SyncRun.objects.filter(
                pk__in=[r.pk for r in runs], status__in=SyncRun.ACTIVE_STATUSES
            ).exists()
        ):
            time.sleep(0.25)
    for run in runs:
        run.refresh_from_db()
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.error for r in runs]
    # Xero was asked for all three lists at once, and each run began before any had finished.
    assert most[0] == 3
    assert max(r.started_at for r in runs) < min(r.finished_at for r in runs)
    for firm in firms:
        assert Client.objects.for_firm(firm).filter(source="xpm").count() > 0
