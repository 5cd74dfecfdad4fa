"""The email sent when a sync ends."""

from django.conf import settings
from django.urls import reverse

from accounts.models import User
from gapportal.mail import send_templated_email

from .models import SyncRun, XpmConnection


def recipients(run: SyncRun) -> list[User]:
    """Whoever started it; the connecting admin for first and daily runs; every admin when a
    daily run fails or a run is held for review."""
    firm = run.firm
    admins = list(firm.users.filter(role=User.Role.ADMIN, is_active=True))
    if run.trigger == SyncRun.Trigger.SCHEDULED and run.status == SyncRun.Status.FAILED:
        return admins
    if run.status == SyncRun.Status.HELD:
        return admins  # any admin may decide, and each should know the clients were kept
    if run.requested_by is not None and run.requested_by.is_active:
        return [run.requested_by]
    connection = XpmConnection.objects.filter(firm=firm).select_related("connected_by").first()
    if connection and connection.connected_by and connection.connected_by.is_active:
        return [connection.connected_by]
    return admins[:1]


def send_summary(run: SyncRun) -> None:
    page = "xpmsync:panel" if run.status == SyncRun.Status.HELD else "xpmsync:history"
    url = settings.SITE_URL + reverse(page)
    for user in recipients(run):
        send_templated_email("sync_summary", [user.email], {"user": user, "run": run, "url": url})
