"""Codes under parallel requests. Only PostgreSQL honours the row locks these rely on."""

import pytest
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from tests.concurrency import run_together
from tests.totp import code_for, enrol, make_device

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite ignores select_for_update; CI runs these on PostgreSQL",
    ),
]

PARALLEL = 6


def in_parallel(actions):
    results = run_together(*actions)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def unverified_sessions(user, count):
    clients = []
    for _ in range(count):
        http = Client()
        http.force_login(user)
        clients.append(http)
    return clients


def post_code(http, code):
    return lambda: http.post("/accounts/login/code/", {"code": code}).status_code


def test_one_code_posted_in_parallel_verifies_exactly_one_session(alice):
    device = make_device(alice)
    sessions = unverified_sessions(alice, PARALLEL)
    code = code_for(device)
    statuses = in_parallel([post_code(http, code) for http in sessions])
    assert statuses.count(302) == 1
    verified = [http for http in sessions if DEVICE_ID_SESSION_KEY in http.session]
    assert len(verified) == 1


def test_parallel_wrong_guesses_cannot_escape_the_throttle(alice):
    device = make_device(alice)
    sessions = unverified_sessions(alice, PARALLEL)
    guesses = [f"{n:06d}" for n in range(PARALLEL)]
    if code_for(device) in guesses:
        guesses[guesses.index(code_for(device))] = "999999"
    pages = in_parallel(
        [
            lambda http=http, guess=guess: http.post(
                "/accounts/login/code/", {"code": guess}
            ).content.decode()
            for http, guess in zip(sessions, guesses, strict=True)
        ]
    )
    # The lock serialises the guesses: one is checked and fails, the rest meet the throttle
    # without being checked at all.
    assert sum("That code is not right" in page for page in pages) == 1
    assert sum("Too many wrong codes" in page for page in pages) == PARALLEL - 1
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_one_backup_code_used_in_parallel_works_exactly_once(alice):
    _device, codes = enrol(alice)
    sessions = unverified_sessions(alice, PARALLEL)
    statuses = in_parallel([post_code(http, codes[0]) for http in sessions])
    assert statuses.count(302) == 1
