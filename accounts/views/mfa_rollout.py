"""Rolling MFA out in a firm: who has which factors, who is not ready, and "Send reminder now"."""

from dataclasses import dataclass

from django.contrib import messages
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from .. import mfa, reminders
from ..access import firm_admin_required, get_firm
from ..forms import UserMfaFilterForm
from ..http import AuthenticatedHttpRequest
from ..models import BackupCode, Firm, User
from ..sessions import safe_next_url


def _count_per_user(rows: QuerySet) -> Coalesce:
    # One subquery per count: joining both tables in one query would multiply the counts.
    counted = rows.filter(user=OuterRef("pk")).values("user").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_factors(users: QuerySet[User]) -> QuerySet[User]:
    """Each user's second factors: ``has_app``, ``passkey_count``, ``codes_left``, ``has_mfa``."""
    return users.annotate(
        has_app=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        passkey_count=_count_per_user(WebAuthnCredential.objects.filter(confirmed=True)),
        codes_left=_count_per_user(BackupCode.objects.unused()),
    ).annotate(has_mfa=mfa.has_mfa_condition())


def filter_by_mfa(
    users: QuerySet[User], query: QueryDict
) -> tuple[QuerySet[User], UserMfaFilterForm]:
    """Manage Users' "Show: MFA not set up" filter (active users without a second factor)."""
    form = UserMfaFilterForm(query)
    if form.is_valid() and form.cleaned_data["mfa"] == "missing":
        users = users.filter(is_active=True).exclude(mfa.has_mfa_condition())
    return users, form


@dataclass(frozen=True)
class Readiness:
    """How ready a firm is for MFA to be required: "8 of 10 users have MFA"."""

    ready: int
    total: int
    not_ready: list[User]


def readiness(firm: Firm) -> Readiness:
    not_ready = list(mfa.users_without_mfa(firm))
    total = User.objects.for_firm(firm).filter(is_active=True).count()
    return Readiness(ready=total - len(not_ready), total=total, not_ready=not_ready)


@require_POST
@firm_admin_required
def mfa_reminders_send(request: AuthenticatedHttpRequest) -> HttpResponse:
    """ "Send reminder now": email every user without MFA a link to set it up."""
    sent = reminders.send_reminders_now(get_firm(request), by=request.user)
    if sent:
        messages.success(request, f"Reminder sent to {sent} user{'s' if sent != 1 else ''}.")
    else:
        messages.info(request, "No reminder sent: everyone without MFA was reminded minutes ago.")
    return redirect(safe_next_url(request))
