"""Celery beat's MFA tasks: reminders to users without MFA, and the weekly digest to admins.

Thin wrappers: the dispatchers queue one task per firm that requires MFA, and each per-firm
task re-loads its firm and calls ``accounts.reminders``. Running any of them twice sends
nothing twice (the reminders record what was sent, under unique slots).
"""

from celery import shared_task

from . import reminders
from .models import Firm


@shared_task
def dispatch_mfa_reminders() -> int:
    """Queue the scheduled reminders of every firm that requires MFA."""
    firm_ids = list(reminders.firms_requiring_mfa().values_list("pk", flat=True))
    for firm_id in firm_ids:
        send_firm_mfa_reminders.delay(firm_id)
    return len(firm_ids)


@shared_task
def send_firm_mfa_reminders(firm_id: int) -> int:
    firm = Firm.objects.filter(pk=firm_id).first()
    if firm is None or not firm.requires_mfa:
        return 0
    return reminders.send_due_reminders(firm)


@shared_task
def dispatch_mfa_digests() -> int:
    """Queue this week's digest of every firm that requires MFA."""
    firm_ids = list(reminders.firms_requiring_mfa().values_list("pk", flat=True))
    for firm_id in firm_ids:
        send_firm_mfa_digest.delay(firm_id)
    return len(firm_ids)


@shared_task
def send_firm_mfa_digest(firm_id: int) -> int:
    firm = Firm.objects.filter(pk=firm_id).first()
    if firm is None or not firm.requires_mfa:
        return 0
    return reminders.send_digest(firm)
