"""Two workers refreshing one connection at once. Only PostgreSQL honours the row lock."""

import threading
import time

import pytest
from django.db import connection, connections

from xpmsync import api
from xpmsync.models import XpmConnection

from .conftest import TOKEN_URL, token_body
from .factories import make_connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite ignores select_for_update; CI runs this on PostgreSQL",
    ),
]


def test_concurrent_refreshes_make_one_call_and_share_the_new_token(firm_a, alice, xero):
    calls = []

    def slow_token(request):
        calls.append(request.body)
        time.sleep(0.3)  # long enough for the other worker to be waiting on the lock
        import json

        return 200, {"Content-Type": "application/json"}, json.dumps(token_body(len(calls) + 1))

    xero.add_callback("POST", TOKEN_URL, callback=slow_token)
    xpm = make_connection(firm_a, alice, expired=True)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            own = XpmConnection.objects.get(pk=xpm.pk)
            barrier.wait()
            results.append(api.fresh_access_token(own))
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(calls) == 1
    assert results == ["access-token-2", "access-token-2"]
    assert XpmConnection.objects.get(pk=xpm.pk).refresh_token == "refresh-token-2"
