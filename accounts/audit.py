"""Writing the audit log, and reading it filtered (the log page and its CSV export)."""

import csv
import io
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from gapportal.spreadsheets import neutralise

from .models import AuditEvent, Firm, User
from .throttle import client_ip

SYSTEM_ACTOR = "system"


def record(
    firm: Firm | None,
    action: str,
    *,
    actor: User | None = None,
    detail: str = "",
    request: HttpRequest | None = None,
    ip_address: str | None = None,
) -> AuditEvent | None:
    """Append one event to the firm's audit log. Never pass secrets in ``detail``.

    The address comes from ``request``, or from ``ip_address`` where a service has no request.
    Platform operators belong to no firm, so their events go to no firm's log.
    """
    if firm is None:
        return None
    if request is not None:
        ip_address = client_ip(request)
    return AuditEvent.objects.create(
        firm=firm,
        action=action,
        actor=actor,
        actor_email=actor.email if actor else "",
        detail=detail[:500],
        ip_address=ip_address or None,
    )


def events_for(
    firm: Firm,
    *,
    action: str = "",
    actor: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """The firm's events, newest first, filtered by event, by who (a user's id, or
    ``"system"`` for events no one signed in caused) and by days in the firm's time zone
    (``until`` included)."""
    events = AuditEvent.objects.for_firm(firm).select_related("actor")
    if action:
        events = events.filter(action=action)
    if actor == SYSTEM_ACTOR:
        events = events.filter(actor__isnull=True, actor_email="")
    elif actor:
        events = events.filter(actor_id=actor)
    zone = firm.zoneinfo
    if since:
        events = events.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until:
        next_day = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
        events = events.filter(created_at__lt=next_day)
    return events


CSV_COLUMNS = ("When", "Time zone", "Event", "Who", "Details", "Address")


def events_csv(firm: Firm, events: QuerySet[AuditEvent]) -> str:
    """The events as CSV, times in the firm's zone; no cell can run as a spreadsheet formula."""
    # Imported here: clients depends on accounts, not the other way round.

    zone = firm.zoneinfo
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=1000):
        row = (
            timezone.localtime(event.created_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
            firm.time_zone,
            event.get_action_display(),
            event.actor_email or "System",
            event.detail_display,
            event.ip_address or "",
        )
        writer.writerow([neutralise(str(cell)) for cell in row])
    return buffer.getvalue()
