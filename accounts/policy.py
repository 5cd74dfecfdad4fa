"""The firm's MFA policy: who must use MFA, and the reminder when the requirement starts."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from . import audit
from .mfa import has_mfa
from .mfa import users_without_mfa as users_without_mfa
from .models import AuditEvent, Firm, MfaReminder, User
from .reminders import send_reminders


class PolicyChangeRefused(Exception):
    """A policy change the rules do not allow; the message says why."""


@contextmanager
def tracking_mfa_requirement(firm: Firm) -> Iterator[None]:
    """Wrap anything that may switch ``firm.requires_mfa`` on; reminds users when it does.

    The reminder goes out once, at the moment the requirement starts, not on every request.
    """
    was_required = firm.requires_mfa
    yield
    firm.refresh_from_db()
    if not was_required and firm.requires_mfa:
        transaction.on_commit(lambda: send_mfa_reminders(firm))


def send_mfa_reminders(firm: Firm) -> int:
    """Email every active user of ``firm`` without MFA a link to Configure MFA."""
    return send_reminders(firm, users_without_mfa(firm), kind=MfaReminder.Kind.START)


def set_required_by_admin(firm: Firm, required: bool, *, by: User) -> None:
    """Switch "Require MFA for everyone"; only an admin who uses MFA can switch it on."""
    if required and not has_mfa(by):
        raise PolicyChangeRefused(
            "Set up multi-factor authentication for yourself before requiring it for everyone."
        )
    with transaction.atomic(), tracking_mfa_requirement(firm):
        Firm.objects.filter(pk=firm.pk).update(is_mfa_required_by_admin=required)
        audit.record(
            firm,
            AuditEvent.Action.MFA_POLICY_CHANGED,
            actor=by,
            detail="MFA required for everyone" if required else "MFA no longer required by admin",
        )
