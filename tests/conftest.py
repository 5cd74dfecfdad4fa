"""The cast: alice (admin of firm A), bob (staff of firm A), carol (admin of firm B)."""

import pytest
from django.core.cache import cache
from django.test import Client as HttpClient

from accounts.models import User
from tests.factories import make_client, make_firm, make_user


@pytest.fixture(autouse=True)
def _clear_cache():
    # Login throttling counters live in the cache; no test inherits another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://portal.example.com"


@pytest.fixture
def firm_a(db):
    return make_firm("Alpha Accounting", seat_limit=5)


@pytest.fixture
def firm_b(db):
    return make_firm("Bravo Bookkeeping", seat_limit=5)


@pytest.fixture
def alice(firm_a):
    return make_user(firm_a, "alice@alpha.example.com", role=User.Role.ADMIN, first_name="Alice")


@pytest.fixture
def bob(firm_a):
    return make_user(firm_a, "bob@alpha.example.com", role=User.Role.USER, first_name="Bob")


@pytest.fixture
def carol(firm_b):
    return make_user(firm_b, "carol@bravo.example.com", role=User.Role.ADMIN, first_name="Carol")


def _logged_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


@pytest.fixture
def alice_client(alice):
    return _logged_in(alice)


@pytest.fixture
def bob_client(bob):
    return _logged_in(bob)


@pytest.fixture
def carol_client(carol):
    return _logged_in(carol)


@pytest.fixture
def alice_firm_client_record(firm_a):
    """A client record of alice's firm."""
    return make_client(
        firm_a, "Harbourline Logistics Pty Ltd", email="accounts@harbourline.example.com"
    )


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Tasks run in the test's own process; the worker test switches this off for itself."""
    from gapportal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def verified():
    """Log a user in on a client of their own, with their password and a code."""
    from tests.totp import sign_in

    return lambda user: sign_in(HttpClient(), user)


@pytest.fixture
def operator_client(client, db):
    """A platform operator (no firm), logged in with password and code."""
    from tests.factories import make_operator
    from tests.totp import code_for, make_device

    operator, password = make_operator()
    device = make_device(operator)
    client.post("/accounts/login/", {"username": operator.email, "password": password})
    client.post("/accounts/login/code/", {"code": code_for(device)})
    return client
