"""Codes under parallel requests. Only PostgreSQL honours the row locks these rely on."""

import pytest
from django.db import connection
from django_otp import DEVICE_ID_SESSION_KEY

from tests.concurrency import run_together_cleanly, signed_in_clients
from tests.totp import code_for, enrol, make_device

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite ignores select_for_update; CI runs these on PostgreSQL",
    ),
]

PARALLEL = 6


def post_code(http, code):
    return lambda: http.post("/accounts/login/code/", {"code": code}).status_code


def test_one_code_posted_in_parallel_verifies_exactly_one_session(alice):
    device = make_device(alice)
    sessions = signed_in_clients(alice, PARALLEL)
    code = code_for(device)
    statuses = run_together_cleanly([post_code(http, code) for http in sessions])
    assert statuses.count(302) == 1
    verified = [http for http in sessions if DEVICE_ID_SESSION_KEY in http.session]
    assert len(verified) == 1


def test_parallel_wrong_guesses_cannot_escape_the_throttle(alice):
    device = make_device(alice)
    sessions = signed_in_clients(alice, PARALLEL)
    guesses = [f"{n:06d}" for n in range(PARALLEL)]
    if code_for(device) in guesses:
        guesses[guesses.index(code_for(device))] = "999999"
    pages = run_together_cleanly(
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
    sessions = signed_in_clients(alice, PARALLEL)
    statuses = run_together_cleanly([post_code(http, codes[0]) for http in sessions])
    assert statuses.count(302) == 1
