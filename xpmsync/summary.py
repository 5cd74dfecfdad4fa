"""What a sync reports: the warnings it gathers, and the email sent when it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse

from accounts.models import User
from clients import health, worklist
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
    scheduled = run.trigger in (SyncRun.Trigger.SCHEDULED, SyncRun.Trigger.QUICK)
    if scheduled and run.status == SyncRun.Status.FAILED:
        return admins
    if run.status == SyncRun.Status.HELD:
        return admins  # any admin may decide, and each should know the clients were kept
    if run.requested_by is not None and run.requested_by.is_active:
        return [run.requested_by]
    connection = XpmConnection.objects.filter(firm=firm).select_related("connected_by").first()
    if connection and connection.connected_by and connection.connected_by.is_active:
        return [connection.connected_by]
    return admins[:1]


def send_summary(run: SyncRun, *, checked: dict | None = None) -> None:
    """Email the run's outcome; ``checked`` is ``check_clients(run)`` when already made."""
    page = "xpmsync:panel" if run.status == SyncRun.Status.HELD else "xpmsync:history"
    url = settings.SITE_URL + reverse(page)
    context = {"run": run, "url": url}
    if run.status == SyncRun.Status.SUCCEEDED:
        context.update(checked if checked is not None else check_clients(run))
    for user in recipients(run):
        send_templated_email("sync_summary", [user.email], {"user": user, **context})


def check_clients(run: SyncRun) -> dict:
    """After a successful run: look for possible duplicates (their count is kept on the run,
    for the panel) and count what XPM is missing, with the pages that list them."""
    found = health.after_change(run.firm)
    if found is not None and run.counts.get("possible_duplicates") != found:
        run.counts = {**run.counts, "possible_duplicates": found}
        run.save(update_fields=["counts"])
    missing = worklist.counts(run.firm)
    return {
        "possible_duplicates": found or 0,
        "duplicates_url": settings.SITE_URL + reverse("clients:duplicate-list"),
        "worklist": [
            {"title": group.title, "count": missing[group.key]}
            for group in worklist.GROUPS
            if missing[group.key]
        ],
        "worklist_url": settings.SITE_URL + reverse("clients:worklist"),
    }


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
