from datetime import timedelta

from django.utils import timezone

from xpmsync.models import XpmConnection

from .conftest import XERO_USER, XPM_TENANT


def make_connection(firm, user=None, *, expired=False, **fields) -> XpmConnection:
    """An active connection with tokens, as a completed connect would leave it."""
    fields.setdefault("status", XpmConnection.Status.ACTIVE)
    fields.setdefault("xero_user_id", XERO_USER["xero_userid"])
    fields.setdefault("tenant_id", XPM_TENANT["tenantId"])
    fields.setdefault("tenant_name", XPM_TENANT["tenantName"])
    fields.setdefault("xero_connection_id", XPM_TENANT["id"])
    xpm = XpmConnection(firm=firm, connected_by=user, connected_at=timezone.now(), **fields)
    xpm.set_tokens({"access_token": "access-token-0", "refresh_token": "refresh-token-0"})
    if expired:
        xpm.access_token_expires_at = timezone.now() - timedelta(minutes=1)
    xpm.save()
    return xpm
