"""A stored connection's tokens: refreshed under a row lock, and what Xero refusing them means.

Refresh tokens rotate and are single-use, so a refresh happens under a row lock on the
connection, re-checks whether another worker already refreshed, and saves the new tokens before
the lock is released, in its own short transaction (never inside a sync's, whose rollback would
restore a spent token). ``invalid_grant`` makes the connection "needs reconnecting" and tells the
firm's admins once; ``invalid_client`` makes it "needs attention" and tells the operators.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, User
from gapportal.mail import send_templated_email

from . import api
from .models import XpmConnection

logger = logging.getLogger(__name__)

TOKEN_FIELDS = [
    "access_token_encrypted",
    "refresh_token_encrypted",
    "access_token_expires_at",
    "token_refreshed_at",
    "status",
]


def token_source(connection: XpmConnection) -> api.TokenSource:
    """What an XpmClient calls for a token: a fresh one for ``connection``, or a new one."""
    return lambda force: fresh_access_token(connection, force=force)


def fresh_access_token(connection: XpmConnection, *, force: bool = False) -> str:
    """An access token for ``connection`` that is good for a while, refreshing it if needed.

    Concurrent callers make one refresh call between them and all get the new token.
    """
    if not force and connection.access_token_is_fresh():
        return connection.access_token
    seen = connection.access_token_encrypted
    refused: api.XeroError | None = None
    with transaction.atomic():
        locked = XpmConnection.objects.select_for_update().filter(pk=connection.pk).first()
        if locked is None:  # disconnected meanwhile
            raise api.NeedsReconnect("The firm disconnected from Xero Practice Manager.")
        # Another worker may have refreshed while we waited for the lock.
        refreshed_meanwhile = locked.access_token_encrypted != seen
        if locked.access_token_is_fresh() and (refreshed_meanwhile or not force):
            _copy_tokens(locked, connection)
            return locked.access_token
        if locked.needs_reconnect or not locked.refresh_token_encrypted:
            raise api.NeedsReconnect("The Xero connection needs an admin to reconnect it.")
        try:
            locked.set_tokens(api.refresh(locked.refresh_token))
            locked.status = XpmConnection.Status.ACTIVE
        except api.InvalidGrant:
            refused = _needs_reconnect(locked)
        except api.AppRejected:
            refused = _needs_attention(locked)
        locked.save(update_fields=TOKEN_FIELDS)
        _copy_tokens(locked, connection)
    if refused is not None:
        # Outside the transaction, so the new status is kept: neither is retried as transient.
        raise refused
    return connection.access_token


def check_still_connected(connection: XpmConnection) -> None:
    """After a 403: if Xero no longer lists the practice among the token's connections (it was
    disconnected from Xero's side), mark the connection as needing a reconnect, tell the
    admins, and raise NeedsReconnect. Otherwise return: the 403 stands as it was."""
    try:
        listed = api.list_connections(fresh_access_token(connection))
    except api.XeroError:
        return  # Xero cannot say; the 403 stands
    if any(c["tenantId"] == connection.tenant_id for c in listed):
        return
    updated = XpmConnection.objects.filter(
        pk=connection.pk, status__in=XpmConnection.SYNCABLE_STATUSES
    ).update(status=XpmConnection.Status.NEEDS_RECONNECT)
    if updated:
        announce_needs_reconnect(connection.pk)
    raise api.DisconnectedInXero(
        f"{connection.practice_label} was disconnected from the portal in Xero. An admin must "
        "reconnect it: open Xero Sync and click Reconnect."
    )


def _needs_reconnect(locked: XpmConnection) -> api.XeroError:
    locked.status = XpmConnection.Status.NEEDS_RECONNECT
    transaction.on_commit(lambda: announce_needs_reconnect(locked.pk))
    return api.NeedsReconnect("Xero no longer accepts this connection: an admin must reconnect it.")


def _needs_attention(locked: XpmConnection) -> api.XeroError:
    logger.error(
        "Xero answered invalid_client refreshing the token of XPM connection %s (firm %s): "
        "check XERO_CLIENT_ID and XERO_CLIENT_SECRET",
        locked.pk,
        locked.firm_id,
    )
    locked.status = XpmConnection.Status.NEEDS_ATTENTION
    return api.AppRejected(
        "Xero refused the portal's own app credentials, so nothing could be synced. "
        "The portal's operators have been alerted; no action is needed from you."
    )


def _copy_tokens(source: XpmConnection, target: XpmConnection) -> None:
    target.access_token_encrypted = source.access_token_encrypted
    target.refresh_token_encrypted = source.refresh_token_encrypted
    target.access_token_expires_at = source.access_token_expires_at
    target.status = source.status


def announce_needs_reconnect(connection_id: int) -> None:
    """Email the firm's admins, once, that the connection must be reconnected."""
    with transaction.atomic():
        connection = (
            XpmConnection.objects.select_for_update()
            .filter(pk=connection_id, reconnect_email_sent_at__isnull=True)
            .select_related("firm")
            .first()
        )
        if connection is None:
            return
        connection.reconnect_email_sent_at = timezone.now()
        connection.save(update_fields=["reconnect_email_sent_at"])
        firm = connection.firm
        audit.record(firm, AuditEvent.Action.XPM_NEEDS_RECONNECT, detail=connection.practice_label)
    url = settings.SITE_URL + reverse("xpmsync:panel")
    for admin in firm.users.filter(role=User.Role.ADMIN, is_active=True):
        send_templated_email(
            "xpm_needs_reconnect",
            [admin.email],
            {"user": admin, "connection": connection, "url": url},
        )
