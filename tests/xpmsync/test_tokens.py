"""Access tokens: refresh with rotation, invalid_grant, and encryption at rest."""

import logging
from urllib.parse import parse_qs

import pytest
from django.core import mail
from django.test import override_settings

from accounts.models import AuditEvent
from xpmsync import api, credentials, tokens
from xpmsync.models import XpmConnection

from .conftest import TOKEN_URL, token_body
from .factories import make_connection


def test_a_fresh_token_is_used_without_calling_xero(firm_a, alice, xero):
    xpm = make_connection(firm_a, alice)
    assert credentials.fresh_access_token(xpm) == "access-token-0"
    assert len(xero.calls) == 0


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_saved(firm_a, alice, xero):
    xero.post(TOKEN_URL, json=token_body(2))
    xpm = make_connection(firm_a, alice, expired=True)
    assert credentials.fresh_access_token(xpm) == "access-token-2"
    body = parse_qs(xero.calls[0].request.body)
    assert body["grant_type"] == ["refresh_token"] and body["refresh_token"] == ["refresh-token-0"]
    stored = XpmConnection.objects.get(pk=xpm.pk)
    assert stored.refresh_token == "refresh-token-2"
    assert stored.access_token_is_fresh()


def test_invalid_grant_marks_the_connection_and_emails_admins_once(
    firm_a, alice, bob, xero, django_capture_on_commit_callbacks, client
):
    from tests.factories import make_user

    second_admin = make_user(firm_a, "second@alpha.example.com", role="admin")
    xero.post(TOKEN_URL, json={"error": "invalid_grant"}, status=400)
    xpm = make_connection(firm_a, alice, expired=True)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(api.NeedsReconnect):
            credentials.fresh_access_token(XpmConnection.objects.get(pk=xpm.pk))
    assert len(xero.calls) == 1  # never retried
    assert XpmConnection.objects.get(pk=xpm.pk).status == "needs_reconnect"
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted([alice.email, second_admin.email])
    assert "Reconnect" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="xpm_needs_reconnect").count() == 1
    assert firm_a.requires_mfa  # still connected, only needing a reconnect


def test_admins_see_a_reconnect_banner_and_staff_do_not(firm_a, alice, alice_client, bob_client):
    make_connection(firm_a, alice, status=XpmConnection.Status.NEEDS_RECONNECT)
    # Without MFA both are confined to Configure MFA, which still shows the banner to admins.
    assert "needs reconnecting" in alice_client.get("/accounts/settings/mfa/").content.decode()
    assert "needs reconnecting" not in bob_client.get("/accounts/settings/mfa/").content.decode()


def test_tokens_survive_key_rotation(settings):
    from cryptography.fernet import Fernet

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(TOKEN_ENCRYPTION_KEYS=[old_key]):
        ciphertext = tokens.encrypt("secret-token")
    with override_settings(TOKEN_ENCRYPTION_KEYS=[new_key, old_key]):
        assert tokens.decrypt(ciphertext) == "secret-token"
    with override_settings(TOKEN_ENCRYPTION_KEYS=[new_key]), pytest.raises(tokens.TokenUnreadable):
        tokens.decrypt(ciphertext)


def test_tokens_never_reach_the_logs(firm_a, alice, xero, caplog):
    xero.post(TOKEN_URL, json=token_body(7))
    xpm = make_connection(firm_a, alice, expired=True)
    with caplog.at_level(logging.DEBUG):
        credentials.fresh_access_token(xpm)
    logged = caplog.text
    for secret in ("access-token-7", "refresh-token-7", "refresh-token-0"):
        assert secret not in logged
