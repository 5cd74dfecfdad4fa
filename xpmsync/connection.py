"""Connecting a firm to its XPM practice, choosing among several, disconnecting, reconnecting."""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, Firm, User
from accounts.policy import tracking_mfa_requirement
from gapportal.mail import send_templated_email

from . import api, sync
from .models import SyncRun, XpmConnection
from .tokens import TokenUnreadable

logger = logging.getLogger(__name__)


class NoPracticeManager(Exception):
    """The consent gave no PRACTICEMANAGER tenant: the XPM staff permission is missing."""


def complete_connection(firm: Firm, *, by: User, code: str, code_verifier: str) -> XpmConnection:
    """Exchange the code, find the firm's XPM tenant and store the connection.

    With one tenant the connection is active at once; with several it waits for the admin to
    choose. With none, the token is revoked and nothing is stored.
    """
    token = api.exchange_code(code, code_verifier)
    tenants = api.practice_manager_tenants(api.list_connections(token["access_token"]))
    if not tenants:
        _revoke_quietly(token.get("refresh_token", ""), firm, by)
        raise NoPracticeManager
    with transaction.atomic():
        connection, _ = XpmConnection.objects.select_for_update().get_or_create(firm=firm)
        connection.set_tokens(token)
        connection.reconnect_email_sent_at = None
        connection.tenant_choices = [
            {"id": t["id"], "tenantId": t["tenantId"], "tenantName": t.get("tenantName", "")}
            for t in tenants
        ]
        if len(tenants) == 1:
            _activate(connection, connection.tenant_choices[0], by=by)
        else:
            connection.status = XpmConnection.Status.CHOOSING
            connection.save()
    return connection


def choose_tenant(connection: XpmConnection, tenant_id: str, *, by: User) -> XpmConnection:
    """Activate a connection that was waiting for the admin to pick one of several practices."""
    choice = next((t for t in connection.tenant_choices if t["tenantId"] == tenant_id), None)
    if choice is None:
        raise ValueError("That practice was not one of those Xero offered.")
    with transaction.atomic():
        _activate(connection, choice, by=by)
    return connection


def _activate(connection: XpmConnection, tenant: dict, *, by: User) -> None:
    firm = connection.firm
    with tracking_mfa_requirement(firm):
        connection.tenant_id = tenant["tenantId"]
        connection.tenant_name = tenant["tenantName"]
        connection.xero_connection_id = tenant["id"]
        connection.tenant_choices = []
        connection.status = XpmConnection.Status.ACTIVE
        connection.connected_by = by
        connection.connected_at = timezone.now()
        connection.save()
        audit.record(firm, AuditEvent.Action.XPM_CONNECTED, actor=by, detail=connection.tenant_name)
    transaction.on_commit(lambda: start_first_sync(firm, by))


def start_first_sync(firm: Firm, by: User) -> None:
    """Queue the first sync once the connection is committed; its summary goes to ``by``."""
    try:
        sync.request_sync(firm, trigger=SyncRun.Trigger.FIRST, user=by)
    except (sync.SyncAlreadyRunning, sync.NotConnected, sync.QueueUnavailable) as error:
        # The daily dispatcher, or Sync Now, picks it up later.
        logger.warning("First sync for firm %s not queued: %s", firm.pk, error)


def disconnect(firm: Firm, *, by: User) -> None:
    """Disconnect at once: tell Xero (best effort), drop the tokens, lift the MFA requirement.

    Synced clients stay, with their XPM UUIDs, so reconnecting re-links them.
    """
    with transaction.atomic():
        connection = XpmConnection.objects.select_for_update().filter(firm=firm).first()
        if connection is None:
            return
        access_token, refresh_token = _readable_tokens(connection)
        xero_connection_id = connection.xero_connection_id
        tenant_name = connection.tenant_name
        connection.delete()
        audit.record(firm, AuditEvent.Action.XPM_DISCONNECTED, actor=by, detail=tenant_name)
    # After the commit: Xero being down must never keep a firm connected.
    if access_token and xero_connection_id:
        try:
            api.delete_connection(access_token, xero_connection_id)
        except api.XeroError as error:
            _note_failure(firm, by, f"Removing the Xero connection failed: {error}")
    _revoke_quietly(refresh_token, firm, by)


def _readable_tokens(connection: XpmConnection) -> tuple[str, str]:
    try:
        return connection.access_token, connection.refresh_token
    except TokenUnreadable:
        return "", ""  # nothing to revoke with; the local copy goes regardless


def _revoke_quietly(refresh_token: str, firm: Firm, by: User | None) -> None:
    if not refresh_token:
        return
    try:
        api.revoke(refresh_token)
    except api.XeroError as error:
        _note_failure(firm, by, f"Revoking the Xero token failed: {error}")


def _note_failure(firm: Firm, by: User | None, detail: str) -> None:
    logger.warning("XPM call failed for firm %s: %s", firm.pk, detail)
    audit.record(firm, AuditEvent.Action.XPM_CALL_FAILED, actor=by, detail=detail)


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
        audit.record(firm, AuditEvent.Action.XPM_NEEDS_RECONNECT, detail=connection.tenant_name)
    url = settings.SITE_URL + reverse("xpmsync:panel")
    for admin in firm.users.filter(role=User.Role.ADMIN, is_active=True):
        send_templated_email(
            "xpm_needs_reconnect",
            [admin.email],
            {"user": admin, "connection": connection, "url": url},
        )
