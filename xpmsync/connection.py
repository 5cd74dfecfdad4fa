"""Connecting a firm to its XPM practice, choosing among several, disconnecting, reconnecting."""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, Firm, User
from accounts.policy import tracking_mfa_requirement

from . import api, credentials, identity, tasks
from .models import SyncRun, XpmConnection
from .tokens import TokenUnreadable

logger = logging.getLogger(__name__)


class NoPracticeManager(Exception):
    """The consent gave no PRACTICEMANAGER tenant: the XPM staff permission is missing."""


def complete_connection(firm: Firm, *, by: User, code: str, code_verifier: str) -> XpmConnection:
    """Exchange the code, find the firm's XPM tenant and store the connection.

    With one tenant the connection is active at once; with several it waits for the admin to
    choose. With none, the connections this consent made (to other kinds of tenant) are removed
    and nothing is stored; the token is not revoked, since revoking would end every connection
    this Xero user made to the portal, other firms' included.
    """
    token = api.exchange_code(code, code_verifier)
    consent = identity.auth_event_id(token)
    connections = api.list_connections(token["access_token"])
    tenants = api.practice_manager_tenants(connections)
    if not tenants:
        _remove_consent_connections(token["access_token"], connections, consent, firm, by)
        raise NoPracticeManager
    xero_user = identity.xero_user(token)
    with transaction.atomic():
        connection, _ = XpmConnection.objects.select_for_update().get_or_create(firm=firm)
        connection.set_tokens(token)
        connection.reconnect_email_sent_at = None
        connection.auth_event_id = consent
        connection.xero_user_id = xero_user.user_id if xero_user else ""
        connection.xero_user_name = xero_user.name if xero_user else ""
        connection.xero_user_email = xero_user.email if xero_user else ""
        connection.tenant_choices = [
            {
                "id": t["id"],
                "tenantId": t["tenantId"],
                "tenantName": t["tenantName"],
            }
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
        connection.tenant_name = tenant.get("tenantName") or ""
        connection.xero_connection_id = tenant["id"]
        connection.tenant_choices = []
        connection.status = XpmConnection.Status.ACTIVE
        connection.connected_by = by
        connection.connected_at = timezone.now()
        connection.save()
        audit.record(
            firm, AuditEvent.Action.XPM_CONNECTED, actor=by, detail=connection.practice_label
        )
    transaction.on_commit(lambda: start_first_sync(firm, by))


def start_first_sync(firm: Firm, by: User) -> None:
    """Queue the first sync once the connection is committed; its summary goes to ``by``."""
    try:
        tasks.request_sync(firm, trigger=SyncRun.Trigger.FIRST, user=by)
    except (tasks.SyncAlreadyRunning, tasks.NotConnected, tasks.QueueUnavailable) as error:
        # The daily dispatcher, or Sync Now, picks it up later.
        logger.warning("First sync for firm %s not queued: %s", firm.pk, error)


def disconnect(firm: Firm, *, by: User) -> None:
    """Disconnect at once: drop the tokens, lift the MFA requirement, tell Xero (best effort).

    Xero is told by deleting this firm's tenant connection, with an access token refreshed first
    when it has expired (Xero refuses an expired one). The refresh token is revoked only when no
    other connection in the portal was authorised by the same Xero user: Xero's revocation ends
    every connection of that user to the portal, and would cut other firms off.
    Synced clients stay, with their XPM UUIDs, so reconnecting re-links them.
    """
    access_token = _usable_access_token(firm, by)
    with transaction.atomic():
        connection = XpmConnection.objects.select_for_update().filter(firm=firm).first()
        if connection is None:
            return
        access_token = access_token or _readable_tokens(connection)[0]
        refresh_token = _readable_tokens(connection)[1]
        others = XpmConnection.objects.exclude(pk=connection.pk)
        shares_tenant = (
            bool(connection.xero_connection_id)
            and others.filter(xero_connection_id=connection.xero_connection_id).exists()
        )
        # A connection whose Xero user is unknown (made before ID tokens were read) may be the
        # same user's: while one remains, revoking could cut it off too.
        may_revoke = (
            bool(connection.xero_user_id)
            and not others.filter(
                Q(xero_user_id=connection.xero_user_id) | Q(xero_user_id="")
            ).exists()
        )
        xero_connection_id = "" if shares_tenant else connection.xero_connection_id
        label = connection.practice_label
        connection.delete()
        audit.record(firm, AuditEvent.Action.XPM_DISCONNECTED, actor=by, detail=label)
    # After the commit: Xero being down must never keep a firm connected.
    if access_token and xero_connection_id:
        try:
            api.delete_connection(access_token, xero_connection_id)
        except api.XeroError as error:
            _note_failure(firm, by, f"Removing the Xero connection failed: {error}")
    if may_revoke:
        _revoke_quietly(refresh_token, firm, by)


def _usable_access_token(firm: Firm, by: User) -> str:
    """An unexpired access token for the firm's connection, refreshing it if needed; "" if none."""
    connection = XpmConnection.objects.for_firm(firm).first()
    if connection is None or not connection.xero_connection_id:
        return ""
    try:
        return credentials.fresh_access_token(connection)
    except (api.XeroError, TokenUnreadable) as error:
        _note_failure(firm, by, f"Refreshing the token to disconnect failed: {error}")
        return ""


def _readable_tokens(connection: XpmConnection) -> tuple[str, str]:
    try:
        return connection.access_token, connection.refresh_token
    except TokenUnreadable:
        return "", ""  # nothing to revoke with; the local copy goes regardless


def _remove_consent_connections(
    access_token: str, connections: list[dict], consent: str, firm: Firm, by: User
) -> None:
    """Delete the connections made by this one consent (none of them an XPM practice)."""
    if not consent:
        return  # Xero did not say which consent this was: touch nothing rather than guess
    for made in (c for c in connections if c.get("authEventId") == consent):
        try:
            api.delete_connection(access_token, made["id"])
        except api.XeroError as error:
            _note_failure(firm, by, f"Removing an unused Xero connection failed: {error}")


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
