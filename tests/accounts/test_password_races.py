"""Parallel wrong passwords on every password form: at most the limit reach the hash.

The throttle counts in the cache, but each request runs on its own thread with its own database
connection, as under gunicorn; CI runs these on PostgreSQL and Redis.
"""

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client

from accounts.models import AuditEvent, User
from tests.concurrency import run_together_cleanly, signed_in_clients
from tests.factories import PASSWORD, make_operator

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="threads need a database that serves several connections; CI runs on PostgreSQL",
    ),
]

PARALLEL = 40
WRONG = "not-the-password-at-all"


@pytest.fixture
def hash_checks(monkeypatch):
    """Every password checked against a stored hash, by user id, from any thread."""
    checked: list[int] = []
    original = User.check_password

    def counting(self, raw_password):
        checked.append(self.pk)  # list.append is atomic under the GIL
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", counting)
    return checked


def test_forty_parallel_wrong_logins_check_only_the_limit(alice, hash_checks, settings):
    limit = settings.LOGIN_THROTTLE_PER_ACCOUNT
    clients = [Client() for _ in range(PARALLEL)]
    pages = run_together_cleanly(
        [
            lambda http=http: http.post(
                "/accounts/login/", {"username": alice.email, "password": WRONG}
            ).content.decode()
            for http in clients
        ]
    )
    assert len(hash_checks) == limit
    assert sum("do not match an active account" in page for page in pages) == limit
    assert sum("Too many failed login attempts" in page for page in pages) == PARALLEL - limit
    assert not any(SESSION_KEY in http.session for http in clients)
    # Locked now: the right password is refused unchecked, with the lockout message.
    right = Client().post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    assert "Too many failed login attempts" in right.content.decode()
    assert len(hash_checks) == limit
    assert AuditEvent.objects.filter(action="repeated_failures", actor=alice).count() == 1


def test_forty_parallel_wrong_passwords_on_email_change_check_only_the_limit(
    alice, hash_checks, settings
):
    limit = settings.LOGIN_THROTTLE_PER_ACCOUNT
    clients = signed_in_clients(alice, PARALLEL)
    statuses = run_together_cleanly(
        [
            lambda http=http, n=n: (
                http.post(
                    "/accounts/settings/email/",
                    {"email": f"thief{n}@example.com", "password": WRONG},
                ).status_code
            )
            for n, http in enumerate(clients)
        ]
    )
    assert statuses == [400] * PARALLEL
    assert len(hash_checks) == limit
    alice.refresh_from_db()
    assert alice.email == "alice@alpha.example.com"
    refused = AuditEvent.objects.filter(action="password_check_failed", actor=alice)
    assert refused.filter(detail__endswith="refused while throttled").count() == PARALLEL - limit


def test_forty_parallel_guesses_at_the_django_admin_login_check_nothing(bob, hash_checks):
    operator, operator_password = make_operator()
    clients = signed_in_clients(bob, PARALLEL)
    guesses = [WRONG] * (PARALLEL - 1) + [operator_password]
    statuses = run_together_cleanly(
        [
            lambda http=http, guess=guess: (
                http.post(
                    "/platform-admin/login/", {"username": operator.email, "password": guess}
                ).status_code
            )
            for http, guess in zip(clients, guesses, strict=True)
        ]
    )
    assert statuses == [403] * PARALLEL
    assert hash_checks == []
    assert all(http.session[SESSION_KEY] == str(bob.pk) for http in clients)
