"""Passkeys: django-otp-webauthn's ceremony views with the portal's rules, and naming/removing.

What the library's views do not do, and these add:

- registering needs sudo mode (a password or code in the last 10 minutes, in a verified
  session), as enrolling the authenticator app does, and at most ``MAX_PASSKEYS``;
- after a passkey verifies a session (at login, or by registering the first factor) the session
  key and CSRF token are rotated: the library calls django-otp's ``login()``, which does not;
- failed passkey checks are counted before the check, through the password throttle's counters
  under a key of their own, and audited;
- a passkey used in a session that is already verified counts as "a code entered" for sudo mode.

The library's views are CSRF-protected (none is exempt; its script sends ``X-CSRFToken``) and
answer only POST. Passwordless login, its default, is off in the settings.
"""

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp_webauthn import exceptions, views
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.utils import rewrite_exceptions

from .. import audit, mfa, passkeys, throttle
from ..forms import PasskeyNameForm
from ..http import AuthenticatedHttpRequest
from ..models import AuditEvent
from ..sessions import keep_only_this_session, mark_verified, safe_next_url
from ..sudo import confirm_first, is_sudo, note_code_entered

logger = logging.getLogger("django_otp_webauthn")

# Set when a passkey became the user's first factor: its backup codes are still to be shown.
BACKUP_CODES_DUE = "passkey_backup_codes_due"


class ConfirmFirst(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_detail = "Confirm it’s you first: enter your password again, then add the passkey."
    default_code = "confirm_first"


class TooManyPasskeys(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_detail = f"You have {passkeys.MAX_PASSKEYS} passkeys. Remove one to add another."
    default_code = "too_many_passkeys"


class PasskeyThrottled(exceptions.OTPWebAuthnApiError):
    status_code = 429
    default_detail = "Too many failed passkey attempts. Wait 15 minutes, or use a code instead."
    default_code = "throttled"


class _Registration:
    request: AuthenticatedHttpRequest  # type: ignore[assignment]

    def check_can_register(self) -> None:
        if not is_sudo(self.request):
            raise ConfirmFirst()
        if passkeys.passkeys_of(self.request.user).count() >= passkeys.MAX_PASSKEYS:
            raise TooManyPasskeys()


class RegistrationBegin(_Registration, views.BeginCredentialRegistrationView):
    pass


class RegistrationComplete(_Registration, views.CompleteCredentialRegistrationView):
    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        request, user = self.request, self.request.user
        state = self.get_state()
        is_first_factor = not mfa.has_mfa(user)
        with rewrite_exceptions(logger=logger):
            data = request.data  # type: ignore[attr-defined]  # parsed by the library's view
            device = self.get_helper().register_complete(user=user, state=state, data=data)
        passkeys.add(
            user,
            device,
            is_first_factor=is_first_factor,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        if is_first_factor:
            user.refresh_from_db()
            keep_only_this_session(request, user)
            request.session[BACKUP_CODES_DUE] = True
        if not user.is_verified():
            mark_verified(request, device)
        return JsonResponse({"id": device.pk})


class AuthenticationBegin(views.BeginCredentialAuthenticationView):
    def check_can_authenticate(self) -> None:
        if not passkeys.has_passkey(self.request.user):
            raise exceptions.CredentialNotFound()


class AuthenticationComplete(views.CompleteCredentialAuthenticationView):
    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        request = self.request
        try:
            attempt = throttle.count_attempt(
                f"passkey:{request.user.pk}", throttle.client_ip(request)
            )
        except throttle.Throttled:
            raise PasskeyThrottled() from None
        try:
            response = super().post(*args, **kwargs)
        except exceptions.OTPWebAuthnApiError:
            _audit(request, AuditEvent.Action.MFA_FAILED, "with a passkey")
            raise
        attempt.succeeded()
        return response

    def complete_auth(self, device: WebAuthnCredential) -> None:
        request = self.request
        if request.user.is_verified():
            # Already past the second factor: this is "Confirm it's you".
            note_code_entered(request)
            _audit(request, AuditEvent.Action.SUDO_CONFIRMED, "with a passkey")
            return
        mark_verified(request, device)
        note_code_entered(request)
        _audit(request, AuditEvent.Action.MFA_VERIFIED, "with a passkey")

    def get_success_url(self) -> str:
        return safe_next_url(self.request)


def _audit(request: AuthenticatedHttpRequest, action: str, detail: str) -> None:
    if request.user.firm_id:
        audit.record(request.user.firm, action, actor=request.user, detail=detail, request=request)


def _own_passkey(request: AuthenticatedHttpRequest, pk: int) -> WebAuthnCredential:
    """One of the signed-in user's own passkeys, or 404."""
    return get_object_or_404(passkeys.passkeys_of(request.user), pk=pk)


@never_cache
@login_required
def passkey_name(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Name a passkey (straight after adding it, or later); then the first factor's codes."""
    device = _own_passkey(request, pk)
    form = PasskeyNameForm(request.POST or None, initial={"name": device.name})
    if request.method == "POST" and form.is_valid():
        passkeys.rename(device, form.cleaned_data["name"])
        if request.session.pop(BACKUP_CODES_DUE, False):
            return show_first_backup_codes(request)
        messages.success(request, f"Your passkey “{device.name}” is ready.")
        return redirect("accounts:mfa")
    context = {"form": form, "passkey": device, "is_new": "new" in request.GET}
    return render(request, "accounts/passkey_name.html", context)


def show_first_backup_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The backup codes of a user whose first factor is a passkey, issued now and shown once."""
    codes = mfa.issue_backup_codes(request.user)
    messages.success(request, "Multi-factor authentication is on. Other sessions were logged out.")
    context = {"codes": codes, "just_enrolled": True, "next": safe_next_url(request)}
    return render(request, "accounts/mfa_backup_codes.html", context)


@require_POST
@login_required
def passkey_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    device = _own_passkey(request, pk)
    if (confirm := confirm_first(request)) is not None:
        return confirm
    try:
        passkeys.remove(request.user, device)
    except passkeys.PasskeyRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"The passkey “{device.name}” was removed.")
    return redirect("accounts:mfa")


def passkey_config(request: AuthenticatedHttpRequest) -> dict[str, str]:
    """What django-otp-webauthn's scripts read from ``#otp_webauthn_config``."""
    return {
        "csrfToken": get_token(request),
        "nextFieldSelector": "input[name='next']",
        "beginRegistrationUrl": reverse("accounts:passkey-register-begin"),
        "completeRegistrationUrl": reverse("accounts:passkey-register-complete"),
        "beginAuthenticationUrl": reverse("accounts:passkey-auth-begin"),
        "completeAuthenticationUrl": reverse("accounts:passkey-auth-complete"),
    }
