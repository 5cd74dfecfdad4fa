"""Two workers refreshing one connection at once. Only PostgreSQL honours the row lock."""

import time

import pytest
from django.db import connection

from tests.concurrency import run_together
from xpmsync import credentials
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

    def worker():
        return credentials.fresh_access_token(XpmConnection.objects.get(pk=xpm.pk))

    results = run_together(worker, worker)
    assert len(calls) == 1
    assert results == ["access-token-2", "access-token-2"]
    assert XpmConnection.objects.get(pk=xpm.pk).refresh_token == "refresh-token-2"
