"""Managing a firm's users: invitations within the seat limit, changes, deletion.

Each service locks the firm's row so that two admins acting at once cannot together exceed the
seat limit or remove the last active admin.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from gapportal.mail import send_templated_email

from . import audit
from .models import AuditEvent, Firm, User
from .sessions import end_other_sessions

# An invitation can be sent again once in this many seconds per user.
RESEND_INTERVAL = 5 * 60


class UserChangeRefused(ValidationError):
    """A change to a user that the firm's rules do not allow; the message says why."""


def _lock_firm(firm: Firm) -> Firm:
    return Firm.objects.select_for_update().get(pk=firm.pk)


@dataclass(frozen=True)
class SeatUse:
    """How a firm's seats are used: every active user takes one, invited users included."""

    used: int
    limit: int
    invited: int
    inactive: int

    @property
    def is_full(self) -> bool:
        return self.used >= self.limit

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)


def seat_use(firm: Firm) -> SeatUse:
    """The firm's seats, counted in one query."""
    users = list(User.objects.for_firm(firm).values_list("is_active", "password"))
    active = [password for is_active, password in users if is_active]
    return SeatUse(
        used=len(active),
        limit=firm.seat_limit,
        invited=sum(1 for password in active if _is_unusable(password)),
        inactive=len(users) - len(active),
    )


def _is_unusable(password: str) -> bool:
    # Django marks an unusable password with a leading "!" (set_unusable_password).
    return not password or password.startswith("!")


def _check_seat_available(firm: Firm) -> None:
    used = firm.active_user_count()
    if used >= firm.seat_limit:
        raise UserChangeRefused(
            f"Your firm is using all {firm.seat_limit} of its user seats. Deactivate or delete a "
            "user first, or contact us to add more seats."
        )


def _other_active_admins(user: User) -> bool:
    return (
        User.objects.for_firm(user.firm)
        .filter(role=User.Role.ADMIN, is_active=True)
        .exclude(pk=user.pk)
        .exists()
    )


def invitation_url(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:invitation-accept", kwargs={"uidb64": uid, "token": token})
    return f"{settings.SITE_URL}{path}"


def invite_user(firm: Firm, *, by: User, user: User, ip: str | None = None) -> User:
    """Add ``user`` (unsaved, from the form) to ``firm`` and email them a set-password link."""
    with transaction.atomic():
        firm = _lock_firm(firm)
        _check_seat_available(firm)
        user.firm = firm
        user.set_unusable_password()
        user.save()
        audit.record(
            firm, AuditEvent.Action.USER_INVITED, actor=by, detail=user.email, ip_address=ip
        )
    _send_invitation(user, firm=firm, by=by)
    return user


def _send_invitation(user: User, *, firm: Firm, by: User) -> None:
    send_templated_email(
        "invitation",
        [user.email],
        {"user": user, "firm": firm, "invited_by": by, "url": invitation_url(user)},
    )


def resend_invitation(user: User, *, by: User, ip: str | None = None) -> None:
    """Email an invited user (active, no password chosen yet) a fresh set-password link.

    At most once every five minutes per user, so a stuck button cannot flood their inbox.
    """
    if not user.is_active or not user.is_invited:
        raise UserChangeRefused(f"{user} has already accepted their invitation.")
    if not cache.add(f"invitation-resent:{user.pk}", 1, timeout=RESEND_INTERVAL):
        raise UserChangeRefused(
            f"An invitation was sent to {user.email} a few minutes ago. Give it a little time "
            "to arrive (and ask them to check their spam folder) before sending another."
        )
    audit.record(
        user.firm,
        AuditEvent.Action.INVITATION_RESENT,
        actor=by,
        detail=user.email,
        ip_address=ip,
    )
    _send_invitation(user, firm=_firm_of(user), by=by)


# The columns Manage Users changes; nothing else of the row is ever written from its form.
ADMIN_EDITABLE_FIELDS = ("first_name", "last_name", "email", "role", "is_active")


@dataclass(frozen=True)
class UserUpdate:
    """What ``update_user`` did: the saved row and the changes in plain words."""

    user: User
    changes: list[str] = field(default_factory=list)
    deactivated: bool = False
    reactivated: bool = False


_FIELD_LABELS = {"first_name": "First name", "last_name": "Last name", "email": "Email"}


def describe_changes(before: User, after: User, fields: list[str]) -> list[str]:
    """The changes from ``before`` to ``after`` as an admin would say them."""
    changes = []
    for name in fields:
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        if name == "is_active":
            changes.append("Reactivated" if new else "Deactivated")
        elif name == "role":
            changes.append(f"Role: {User.Role(old).label} → {User.Role(new).label}")
        else:
            changes.append(f"{_FIELD_LABELS[name]}: {old or '(blank)'} → {new or '(blank)'}")
    return changes


def update_user(user: User, *, by: User, changed: list[str], ip: str | None = None) -> UserUpdate:
    """Apply the form's ``changed`` fields of ``user`` unless they break the seat limit or leave
    no admin; returns the saved row and what changed. A deactivated user's sessions end at once.

    ``user`` was read before the firm's lock was taken, so the row is read again under a lock and
    only the changed columns are written: a password change, an MFA enrolment or a new session
    generation that landed meanwhile is kept.
    """
    fields = [name for name in ADMIN_EDITABLE_FIELDS if name in changed]
    with transaction.atomic():
        firm = _lock_firm(_firm_of(user))
        current = User.objects.select_for_update().get(pk=user.pk)
        is_active = user.is_active if "is_active" in fields else current.is_active
        role = user.role if "role" in fields else current.role
        loses_admin = (
            current.is_active
            and current.role == User.Role.ADMIN
            and (not is_active or role != User.Role.ADMIN)
        )
        if loses_admin and not _other_active_admins(current):
            raise UserChangeRefused(
                "This is the firm's last active admin. Make another user an admin first."
            )
        if is_active and not current.is_active:
            _check_seat_available(firm)
        changes = describe_changes(current, user, fields)
        was_active = current.is_active
        for name in fields:
            setattr(current, name, getattr(user, name))
        if fields:
            current.save(update_fields=fields)
        if was_active and not current.is_active:
            end_other_sessions(current, keep=None)
        audit.record(
            firm,
            AuditEvent.Action.USER_CHANGED,
            actor=by,
            detail=f"{current.email}: {'; '.join(changes) or 'No changes'}",
            ip_address=ip,
        )
    return UserUpdate(
        user=current,
        changes=changes,
        deactivated=was_active and not current.is_active,
        reactivated=current.is_active and not was_active,
    )


def delete_user(user: User, *, by: User, ip: str | None = None) -> None:
    """Delete ``user``; nobody deletes themselves, and the last active admin stays."""
    if user.pk == by.pk:
        raise UserChangeRefused("You cannot delete your own account.")
    with transaction.atomic():
        firm = _lock_firm(_firm_of(user))
        if user.is_active and user.is_firm_admin and not _other_active_admins(user):
            raise UserChangeRefused(
                "This is the firm's last active admin. Make another user an admin first."
            )
        email = user.email
        user.delete()
        audit.record(firm, AuditEvent.Action.USER_DELETED, actor=by, detail=email, ip_address=ip)


def change_email(user: User, email: str, *, ip: str | None = None) -> None:
    """Change the login email; the old address is told, in case it was not its owner."""
    old_email = user.email
    user.email = email
    user.save(update_fields=["email"])
    audit.record(
        user.firm,
        AuditEvent.Action.EMAIL_CHANGED,
        actor=user,
        detail=f"{old_email} → {email}",
        ip_address=ip,
    )
    send_templated_email("email_changed", [old_email], {"user": user, "old_email": old_email})


def _firm_of(user: User) -> Firm:
    """The firm of a firm user (Manage Users never reaches platform operators, who have none)."""
    if user.firm is None:
        raise UserChangeRefused("Platform operators are managed in the platform admin.")
    return user.firm
