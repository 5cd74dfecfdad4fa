"""User Settings: personal details, password, and multi-factor authentication."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from gapportal.mail import send_templated_email

from .. import audit, mfa, passkeys
from ..access import firm_member_required
from ..forms import (
    EmailChangeForm,
    EnrolForm,
    PasswordAndCodeForm,
    ProfileForm,
    ThrottledPasswordChangeForm,
)
from ..http import AuthenticatedHttpRequest
from ..models import AuditEvent
from ..sessions import (
    keep_only_this_session,
    mark_verified,
    note_password_entered,
    password_entered_recently,
    safe_next_url,
)
from ..sudo import is_sudo
from ..throttle import client_ip
from ..users import change_email
from .passkeys import BACKUP_CODES_DUE, passkey_config, show_first_backup_codes


@firm_member_required
def user_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your details were saved.")
        return redirect("accounts:settings")
    email_form = EmailChangeForm(user=request.user)
    return render(request, "accounts/settings.html", {"form": form, "email_form": email_form})


@require_POST
@sensitive_post_parameters("password")
@firm_member_required
def email_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    email_form = EmailChangeForm(request.POST, user=request.user, ip=client_ip(request))
    if not email_form.is_valid():
        context = {"form": ProfileForm(instance=request.user), "email_form": email_form}
        return render(request, "accounts/settings.html", context, status=400)
    note_password_entered(request)
    change_email(request.user, email_form.cleaned_data["email"], ip=client_ip(request))
    messages.success(request, "Your email address was changed. Use it when you next log in.")
    return redirect("accounts:settings")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Changes the password, keeps this session and ends every other one."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:settings")
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "ip": client_ip(self.request)}

    def form_valid(self, form):
        response = super().form_valid(form)
        note_password_entered(self.request)
        user = form.user
        send_templated_email("password_changed", [user.email], {"user": user})
        if user.firm_id:
            audit.record(
                user.firm, AuditEvent.Action.PASSWORD_CHANGED, actor=user, request=self.request
            )
        messages.success(self.request, "Your password was changed. Other sessions were logged out.")
        return response


@never_cache
@sensitive_post_parameters("password", "code")
@login_required
def mfa_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Configure MFA: enrol when the user has none, otherwise its status and actions."""
    user = request.user
    if request.session.pop(BACKUP_CODES_DUE, False):
        # A first passkey whose naming page was skipped: its backup codes are still unseen.
        return show_first_backup_codes(request)
    adding_app = request.GET.get("add") == "app" and not mfa.has_authenticator_app(user)
    if mfa.has_mfa(user) and not adding_app:
        return _status(request)
    form = EnrolForm(
        request.POST or None,
        user=user,
        ask_password=not password_entered_recently(request),
        ip=client_ip(request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa.confirm_enrolment(user, form.cleaned_data["code"], ip=client_ip(request))
        except mfa.CodeRefused as refused:
            form.add_error("code", str(refused))
        else:
            return _enrolled(request, codes)
    device = mfa.pending_device(user)
    context = {
        "form": form,
        "qr_svg": mfa.qr_code_svg(device),
        # A phone cannot scan its own screen: the same otpauth:// address opens the app directly.
        "otpauth_url": device.config_url,
        "secret": mfa.secret_for_display(device),
        "next": safe_next_url(request),
        "adding_app": adding_app,
        "can_add_passkey": is_sudo(request),
        "passkey_config": passkey_config(request),
    }
    return render(request, "accounts/mfa_enrol.html", context)


def _enrolled(request: AuthenticatedHttpRequest, codes: list[str]) -> HttpResponse:
    request.user.refresh_from_db()
    keep_only_this_session(request, request.user)
    mark_verified(request, mfa.confirmed_device(request.user))
    note_password_entered(request)
    messages.success(request, "Multi-factor authentication is on. Other sessions were logged out.")
    return _show_backup_codes(request, codes, just_enrolled=True)


def _show_backup_codes(
    request: HttpRequest, codes: list[str], *, just_enrolled: bool
) -> HttpResponse:
    context = {"codes": codes, "just_enrolled": just_enrolled, "next": safe_next_url(request)}
    return render(request, "accounts/mfa_backup_codes.html", context)


@require_POST
@never_cache
@sensitive_post_parameters("password", "code")
@login_required
def mfa_backup_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """New backup codes (the old ones stop working), shown once."""
    form = PasswordAndCodeForm(
        request.POST,
        user=request.user,
        prefix="backup",
        ip=client_ip(request),
        purpose="new backup codes",
    )
    if _password_and_code_ok(request, form):
        codes = mfa.regenerate_backup_codes(request.user)
        return _show_backup_codes(request, codes, just_enrolled=False)
    return _status(request, backup_form=form)


@require_POST
@never_cache
@sensitive_post_parameters("password", "code")
@login_required
def mfa_disable(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if user.mfa_required:
        messages.error(request, f"{user.mfa_required_reason} It cannot be turned off.")
        return redirect("accounts:mfa")
    form = PasswordAndCodeForm(
        request.POST, user=user, prefix="disable", ip=client_ip(request), purpose="turning MFA off"
    )
    if not _password_and_code_ok(request, form):
        return _status(request, disable_form=form)
    mfa.disable(user)
    messages.success(request, "Multi-factor authentication is off for your account.")
    return redirect("accounts:mfa")


def _password_and_code_ok(request: AuthenticatedHttpRequest, form: PasswordAndCodeForm) -> bool:
    if not form.is_valid():
        return False
    note_password_entered(request)
    try:
        mfa.verify(request.user, form.cleaned_data["code"], ip=client_ip(request))
    except mfa.CodeRefused as refused:
        form.add_error("code", str(refused))
        return False
    return True


def _status(request: AuthenticatedHttpRequest, **forms: PasswordAndCodeForm) -> HttpResponse:
    user = request.user
    context = {
        "has_app": mfa.has_authenticator_app(user),
        "passkeys": passkeys.passkeys_of(user),
        "can_add_passkey": is_sudo(request),
        "max_passkeys": passkeys.MAX_PASSKEYS,
        "passkey_config": passkey_config(request),
        "codes_left": mfa.unused_backup_code_count(user),
        "backup_form": forms.get("backup_form") or PasswordAndCodeForm(user=user, prefix="backup"),
        "disable_form": forms.get("disable_form")
        or PasswordAndCodeForm(user=user, prefix="disable"),
    }
    return render(request, "accounts/mfa_status.html", context, status=400 if forms else 200)
