"""Two syncs for one firm at once. Only PostgreSQL shows what the locks are worth."""

import pytest
from django.db import IntegrityError, connection

from tests.concurrency import run_together
from xpmsync import sync
from xpmsync.models import SyncRun

from .factories import make_connection
from .test_sync import serve

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers; CI runs these on PostgreSQL",
    ),
]


def test_two_requests_at_once_queue_one_run(firm_a):
    def queue():
        return SyncRun.objects.create(firm=firm_a, trigger="manual")

    results = run_together(queue, queue)
    assert sum(isinstance(r, SyncRun) for r in results) == 1
    assert sum(isinstance(r, IntegrityError) for r in results) == 1


def test_two_workers_with_one_run_sync_it_once(firm_a, alice, xero):
    make_connection(firm_a, alice)
    serve(xero)
    serve(xero)
    run = SyncRun.objects.create(firm=firm_a, trigger="manual")
    results = run_together(
        lambda: sync.run_sync(run.pk, firm_a.pk), lambda: sync.run_sync(run.pk, firm_a.pk)
    )
    # The one that lost the claim found the run done, or held by the other (and would look
    # again once that worker's lease ends).
    lost = [r for r in results if r is None or isinstance(r, sync.RetryLater)]
    assert len(lost) == 1
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 1
    assert len([c for c in xero.calls if "client.api" in c.request.url]) == 1
