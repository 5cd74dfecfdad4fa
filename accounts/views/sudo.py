"""Confirm it's you: the password or a code again, before a dangerous admin action."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from .. import audit, mfa
from ..forms import CodeForm, ConfirmPasswordForm
from ..http import AuthenticatedHttpRequest
from ..models import AuditEvent
from ..sessions import note_password_entered, safe_next_url
from ..sudo import note_code_entered
from ..throttle import client_ip


@never_cache
@sensitive_post_parameters("password", "code")
@login_required
def sudo_confirm(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The password through the login's throttle, or a code through the device's."""
    user, ip = request.user, client_ip(request)
    has_mfa = mfa.has_mfa(user)
    password_form = ConfirmPasswordForm(user=user, ip=ip)
    code_form = CodeForm()
    if request.method == "POST" and "code" in request.POST and has_mfa:
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            try:
                mfa.verify(user, code_form.cleaned_data["code"], ip=ip)
            except mfa.CodeRefused as refused:
                code_form.add_error("code", str(refused))
            else:
                note_code_entered(request)
                return _confirmed(request, "with a code")
    elif request.method == "POST":
        password_form = ConfirmPasswordForm(request.POST, user=user, ip=ip)
        if password_form.is_valid():
            note_password_entered(request)
            return _confirmed(request, "with the password")
    context = {
        "password_form": password_form,
        "code_form": code_form,
        "has_mfa": has_mfa,
        "next": safe_next_url(request),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/sudo_confirm.html", context, status=status)


def _confirmed(request: AuthenticatedHttpRequest, how: str) -> HttpResponse:
    if request.user.firm_id:
        audit.record(
            request.user.firm,
            AuditEvent.Action.SUDO_CONFIRMED,
            actor=request.user,
            detail=how,
            request=request,
        )
    return redirect(safe_next_url(request))
