"""MFA reminders until everyone has MFA: to each user without it, and a weekly digest to admins.

While a firm requires MFA (connected to XPM, or an admin switched it on), each active user
without a second factor is emailed when the requirement starts, then again at most once every
3 days, at most 3 automatic reminders in all; an admin can send one at any time ("Send reminder
now"). Admins get a digest each week naming who is still not set up.

Every email is a ``MfaReminder`` row written (and audited) before it goes out. Scheduled emails
claim a unique slot first, so running a task twice, or two workers at once, sends each once.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from gapportal.mail import send_templated_email

from . import audit
from .mfa import users_without_mfa
from .models import AuditEvent, Firm, MfaReminder, User, connected_xpm_statuses

REMINDER_INTERVAL = timedelta(days=3)
MAX_AUTOMATIC_REMINDERS = 3
# A second "Send reminder now" this soon after the first (a double click) sends nothing.
MANUAL_REPEAT_AFTER = timedelta(minutes=10)
AUTOMATIC = (MfaReminder.Kind.START, MfaReminder.Kind.SCHEDULED)


def configure_mfa_url() -> str:
    return settings.SITE_URL + reverse("accounts:mfa")


def firms_requiring_mfa() -> QuerySet[Firm]:
    return Firm.objects.filter(
        Q(is_mfa_required_by_admin=True) | Q(xpm_connection__status__in=connected_xpm_statuses())
    ).distinct()


def _email_reminder(firm: Firm, user: User) -> None:
    context = {
        "user": user,
        "firm": firm,
        "url": configure_mfa_url(),
        "because_of_xpm": firm.is_connected_to_xpm,
    }
    send_templated_email("mfa_reminder", [user.email], context)


def _record(firm: Firm, user: User, kind: str, *, by: User | None, slot: str | None = None) -> bool:
    """Write the reminder's row and its audit event; False if its slot was already taken."""
    try:
        with transaction.atomic():
            MfaReminder.objects.create(firm=firm, user=user, kind=kind, slot=slot)
            audit.record(
                firm,
                AuditEvent.Action.MFA_DIGEST_SENT
                if kind == MfaReminder.Kind.DIGEST
                else AuditEvent.Action.MFA_REMINDER_SENT,
                actor=by,
                detail=f"{user.email}: {MfaReminder.Kind(kind).label.lower()}",
            )
    except IntegrityError:
        return False
    return True


def send_reminders(firm: Firm, users: Iterable[User], *, kind: str, by: User | None = None) -> int:
    """Email each of ``users`` a reminder now (the requirement started, or an admin asked)."""
    sent = 0
    for user in users:
        _record(firm, user, kind, by=by)
        _email_reminder(firm, user)
        sent += 1
    return sent


def send_reminders_now(firm: Firm, *, by: User) -> int:
    """An admin's "Send reminder now": every user without MFA not reminded in the last minutes."""
    recently = timezone.now() - MANUAL_REPEAT_AFTER
    users = users_without_mfa(firm).exclude(mfa_reminders__sent_at__gte=recently)
    return send_reminders(firm, users, kind=MfaReminder.Kind.MANUAL, by=by)


def _with_reminder_history(firm: Firm, users: QuerySet[User]) -> QuerySet[User]:
    this_firm = Q(mfa_reminders__firm=firm)
    return users.annotate(
        automatic_reminders=Count(
            "mfa_reminders", filter=this_firm & Q(mfa_reminders__kind__in=AUTOMATIC)
        ),
        last_reminded_at=Max("mfa_reminders__sent_at", filter=this_firm),
    )


def send_due_reminders(firm: Firm, *, now: datetime | None = None) -> int:
    """The scheduled reminders of ``firm`` that are due; returns how many were sent.

    Due: the user has no MFA, has had fewer than 3 automatic reminders, and none of any kind in
    the last 3 days.
    """
    now = now or timezone.now()
    sent = 0
    for user in _with_reminder_history(firm, users_without_mfa(firm)):
        sent_before: int = getattr(user, "automatic_reminders", 0)  # annotated above
        last_reminded_at = getattr(user, "last_reminded_at", None)
        if sent_before >= MAX_AUTOMATIC_REMINDERS:
            continue
        if last_reminded_at and now - last_reminded_at < REMINDER_INTERVAL:
            continue
        slot = f"auto-{sent_before + 1}"
        if _record(firm, user, MfaReminder.Kind.SCHEDULED, by=None, slot=slot):
            _email_reminder(firm, user)
            sent += 1
    return sent


def send_digest(firm: Firm, *, now: datetime | None = None) -> int:
    """This week's digest to each active admin of ``firm``: who still has no MFA.

    Nothing is sent when everyone has MFA, and each admin gets one digest per ISO week.
    """
    now = now or timezone.now()
    missing = list(_with_reminder_history(firm, users_without_mfa(firm)))
    if not missing:
        return 0
    year, week, _day = timezone.localtime(now).isocalendar()
    slot = f"digest-{year}-W{week:02d}"
    admins = User.objects.for_firm(firm).filter(role=User.Role.ADMIN, is_active=True)
    context = {
        "firm": firm,
        "missing": missing,
        "total": User.objects.for_firm(firm).filter(is_active=True).count(),
        "users_url": settings.SITE_URL + reverse("accounts:user-list") + "?mfa=missing",
        "max_reminders": MAX_AUTOMATIC_REMINDERS,
    }
    sent = 0
    for admin in admins:
        if _record(firm, admin, MfaReminder.Kind.DIGEST, by=None, slot=slot):
            send_templated_email("mfa_digest", [admin.email], {**context, "admin": admin})
            sent += 1
    return sent
