"""Monitoring: refused requests are logged, and admins can filter the audit log."""

import logging

from django.test import Client

from accounts import audit
from accounts.models import AuditEvent


def security_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "accounts.security"]


def test_a_403_is_logged_with_the_user_and_the_path(bob_client, bob, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.security"):
        assert bob_client.get("/accounts/users/").status_code == 403
    assert security_warnings(caplog) == [
        f"403 Forbidden: user_id={bob.pk} firm_id={bob.firm_id} method=GET path=/accounts/users/ "
        "ip=127.0.0.1"
    ]


def test_a_post_without_a_csrf_token_is_logged_too(alice, bob, caplog):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    with caplog.at_level(logging.WARNING, logger="accounts.security"):
        assert strict.post(f"/accounts/users/{bob.pk}/delete/").status_code == 403
    assert any(
        f"user_id={alice.pk}" in line and "method=POST" in line
        for line in security_warnings(caplog)
    )


def test_pages_that_are_allowed_log_nothing(alice_client, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.security"):
        assert alice_client.get("/accounts/users/").status_code == 200
    assert security_warnings(caplog) == []


def test_admins_filter_the_audit_log_by_event(alice_client, alice, carol):
    for _ in range(6):
        Client().post("/accounts/login/", {"username": alice.email, "password": "wrong-guess-1234"})
    audit.record(carol.firm, AuditEvent.Action.REPEATED_FAILURES, actor=carol, detail="carol's")
    page = alice_client.get("/accounts/audit-log/?action=repeated_failures").content.decode()
    assert page.count("Repeated wrong passwords or codes</td>") == 1
    assert "Failed login</td>" not in page
    assert "carol's" not in page
    everything = alice_client.get("/accounts/audit-log/").content.decode()
    assert everything.count("Failed login</td>") == 6


def test_an_unknown_event_filter_shows_everything(alice_client, alice):
    audit.record(alice.firm, AuditEvent.Action.LOGIN, actor=alice)
    page = alice_client.get("/accounts/audit-log/?action=nonsense").content.decode()
    assert "Logged in</td>" in page
