"""Login (password, then code), password reset and invitations."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from gapportal.mail import send_templated_email

from .. import audit, mfa, passkeys
from ..forms import CodeForm, LoginForm, NewPasswordForm
from ..http import AuthenticatedHttpRequest
from ..models import AuditEvent
from ..sessions import mark_verified, note_password_entered, safe_next_url
from ..throttle import client_ip
from .passkeys import passkey_config


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        note_password_entered(self.request)
        if user.firm_id:
            audit.record(user.firm, AuditEvent.Action.LOGIN, actor=user, request=self.request)
        # The MFA middleware would send them on anyway; going straight there keeps ?next=.
        if mfa.has_mfa(user):
            query = urlencode({"next": self.get_success_url()})
            return redirect(f"{reverse('accounts:mfa-verify')}?{query}")
        return response


@never_cache
@sensitive_post_parameters("code")
@login_required
def mfa_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.user.is_verified():
        return redirect(safe_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = mfa.verify(request.user, form.cleaned_data["code"], ip=client_ip(request))
        except mfa.CodeRefused as refused:
            _audit(request, AuditEvent.Action.MFA_FAILED)
            form.add_error("code", str(refused))
        else:
            mark_verified(request, result.device)
            _audit(request, AuditEvent.Action.MFA_VERIFIED)
            if result.used_backup_code:
                _audit(request, AuditEvent.Action.BACKUP_CODE_USED)
                left = mfa.unused_backup_code_count(request.user)
                messages.warning(
                    request,
                    f"You used a backup code; {left} left. Make new ones in User Settings > "
                    "Multi-factor authentication.",
                )
            return redirect(safe_next_url(request))
    context = {
        "form": form,
        "next": safe_next_url(request),
        "has_passkey": passkeys.has_passkey(request.user),
        "has_app": mfa.has_authenticator_app(request.user),
        "passkey_config": passkey_config(request),
    }
    return render(request, "accounts/mfa_verify.html", context)


def _audit(request: AuthenticatedHttpRequest, action: str) -> None:
    if request.user.firm_id:
        audit.record(request.user.firm, action, actor=request.user, request=request)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    @property
    def extra_email_context(self) -> dict[str, str]:  # type: ignore[override]
        # Links are built from SITE_URL, never from the request's Host header.
        return {"site_url": settings.SITE_URL}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Sets the new password without logging in: the login, and its code step, still apply.

    The new password hash ends every existing session of the user.
    """

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")
    form_class = NewPasswordForm

    def form_valid(self, form):
        response = super().form_valid(form)
        send_templated_email("password_changed", [form.user.email], {"user": form.user})
        if form.user.firm_id:
            audit.record(form.user.firm, AuditEvent.Action.PASSWORD_CHANGED, actor=form.user)
        return response


class InvitationAcceptView(PasswordResetConfirmView):
    """An invited user chooses their first password through the reset-token machinery, and is
    signed in with it: no "your password was changed" alarm, no second trip through Log in.

    The link still works once (the token depends on the password hash and last login), the
    login rotates the session key and CSRF token, and a user who already has MFA goes to the
    code step before anything else. A link used by someone who already had a password is a
    password reset, and behaves as one.
    """

    template_name = "accounts/invitation_accept.html"

    def form_valid(self, form):
        user = form.user
        if user.has_usable_password():
            return super().form_valid(form)
        form.save()
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        if user.firm_id:
            audit.record(
                user.firm,
                AuditEvent.Action.PASSWORD_CHANGED,
                actor=user,
                detail="First password, from the invitation",
            )
        # An admin may have deactivated them while the form was open.
        if not type(user).objects.filter(pk=user.pk, is_active=True).exists():
            return redirect("accounts:login")
        auth_login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        note_password_entered(self.request)
        if user.firm_id:
            audit.record(user.firm, AuditEvent.Action.LOGIN, actor=user, request=self.request)
        if mfa.has_mfa(user):
            return redirect("accounts:mfa-verify")
        if user.mfa_required:
            return redirect("accounts:mfa")
        return redirect(settings.LOGIN_REDIRECT_URL)


def help_page(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/help.html")
