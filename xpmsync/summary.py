"""What a sync reports: the warnings it gathers, and the email sent when it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse

from accounts.models import User
from gapportal.mail import send_templated_email

from .models import SyncRun, XpmConnection

if TYPE_CHECKING:
    from .parse import ClientRecord

# How many client names each warning lists; the rest are counted.
WARNING_NAMES = 20


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


class Warnings:
    """What the summary email points out, gathered batch by batch: counts and the first names."""

    KINDS = {
        "no_email": "without an email address in XPM",
        "no_contacts": "without contacts in XPM",
    }

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {kind: [] for kind in self.KINDS}
        self.totals = dict.fromkeys(self.KINDS, 0)

    def add(self, active: list[ClientRecord], contacts: dict[str, list]) -> None:
        for record in active:
            if not record.email:
                self._note("no_email", record.name)
            if not contacts[record.uuid]:
                self._note("no_contacts", record.name)

    def _note(self, kind: str, name: str) -> None:
        self.totals[kind] += 1
        if len(self.names[kind]) < WARNING_NAMES:
            self.names[kind].append(name)

    def as_list(self) -> list[dict]:
        return [
            {
                "kind": kind,
                "message": f"{count} client{'s' if count != 1 else ''} {self.KINDS[kind]}",
                "names": self.names[kind],
                "count": count,
            }
            for kind, count in self.totals.items()
            if count
        ]
