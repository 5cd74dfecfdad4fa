"""Manage Users (firm admins): the firm's users, their MFA, and the firm's MFA policy."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .. import mfa, policy
from ..access import firm_admin_required, get_firm, get_user_for_admin
from ..firm_settings import set_time_zone
from ..forms import FirmTimeZoneForm, MfaPolicyForm, UserForm, UserSearchForm
from ..http import AuthenticatedHttpRequest
from ..models import User
from ..sudo import confirm_first, is_sudo, redirect_to_confirm
from ..throttle import client_ip
from ..users import (
    UserChangeRefused,
    UserUpdate,
    delete_user,
    invite_user,
    resend_invitation,
    seat_use,
    update_user,
)
from .mfa_rollout import filter_by_mfa, with_factors

# Edits that need sudo mode: a role, deactivation, or the address a password reset goes to.
SUDO_FIELDS = {"role", "is_active", "email"}


@firm_admin_required
def user_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    firm = get_firm(request)
    search = UserSearchForm(request.GET)
    users = with_factors(User.objects.for_firm(firm))
    if search.is_valid() and (q := search.cleaned_data["q"]):
        users = users.filter(
            Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(email__icontains=q)
        )
    users, mfa_filter = filter_by_mfa(users, request.GET)
    context = {
        "page": Paginator(users, 50).get_page(request.GET.get("page")),
        "search": search,
        "mfa_filter": mfa_filter,
        "firm": firm,
        "seats": seat_use(firm),
        "policy_form": _policy_form(firm),
        "time_zone_form": FirmTimeZoneForm(initial={"time_zone": firm.time_zone}),
    }
    return render(request, "accounts/user_list.html", context)


def _policy_form(firm) -> MfaPolicyForm:
    """Ticked and locked while an XPM connection requires MFA whatever the admin chose."""
    if not firm.is_connected_to_xpm:
        return MfaPolicyForm(initial={"required": firm.is_mfa_required_by_admin})
    form = MfaPolicyForm(initial={"required": True})
    form.fields["required"].disabled = True
    form.fields["required"].help_text = (
        "Locked on: your firm is connected to Xero Practice Manager, and Xero requires MFA for "
        "everyone who can see its data. It unlocks if you disconnect."
    )
    return form


@firm_admin_required
def user_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    seats = seat_use(get_firm(request))
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invite_user(
                get_firm(request), by=request.user, user=form.instance, ip=client_ip(request)
            )
        except UserChangeRefused as refused:
            form.add_error(None, refused)
        else:
            messages.success(request, f"{user} was added and emailed an invitation.")
            return redirect("accounts:user-list")
    return render(request, "accounts/user_form.html", {"form": form, "seats": seats})


@firm_admin_required
def user_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    was_admin = user.is_firm_admin
    form = UserForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        if SUDO_FIELDS.intersection(form.changed_data) and not is_sudo(request):
            return redirect_to_confirm(request, request.path)
        try:
            update = update_user(
                form.instance, by=request.user, changed=form.changed_data, ip=client_ip(request)
            )
        except UserChangeRefused as refused:
            form.add_error(None, refused)
        else:
            messages.success(request, _update_message(update))
            return redirect("accounts:user-list")
    context = {
        "form": form,
        "subject": user,
        "subject_has_mfa": mfa.has_mfa(user),
        "subject_is_admin": was_admin,
    }
    return render(request, "accounts/user_form.html", context)


def _update_message(update: UserUpdate) -> str:
    user = update.user
    if update.deactivated:
        return (
            f"{user} was deactivated and signed out everywhere. They can no longer log in, and "
            "their seat is free."
        )
    if update.reactivated:
        return f"{user} was reactivated and can log in again."
    if not update.changes:
        return f"Nothing changed for {user}."
    return f"{user}: {'; '.join(update.changes)}."


@require_POST
@firm_admin_required
def user_resend_invitation(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    try:
        resend_invitation(user, by=request.user, ip=client_ip(request))
    except UserChangeRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"A new invitation was emailed to {user.email}.")
    return redirect("accounts:user-list")


@require_POST
@firm_admin_required
def firm_time_zone(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = FirmTimeZoneForm(request.POST)
    if form.is_valid():
        set_time_zone(get_firm(request), form.cleaned_data["time_zone"], by=request.user)
        messages.success(request, f"Times are now shown in {form.cleaned_data['time_zone']}.")
    else:
        messages.error(request, "Choose a time zone from the list.")
    return redirect("accounts:user-list")


@require_POST
@firm_admin_required
def user_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    if (confirm := confirm_first(request)) is not None:
        return confirm
    try:
        delete_user(user, by=request.user, ip=client_ip(request))
    except UserChangeRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{user} was deleted.")
    return redirect("accounts:user-list")


@require_POST
@firm_admin_required
def user_reset_mfa(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    if (confirm := confirm_first(request)) is not None:
        return confirm
    if user.pk == request.user.pk:
        messages.error(request, "Manage your own MFA in User Settings.")
        return redirect("accounts:user-edit", pk=user.pk)
    mfa.reset(user, by=request.user)
    messages.success(
        request,
        f"{user}'s MFA was reset and their sessions ended. They will set it up again at their "
        "next login.",
    )
    return redirect("accounts:user-list")


@require_POST
@firm_admin_required
def mfa_policy(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = MfaPolicyForm(request.POST)
    form.is_valid()
    required = form.cleaned_data.get("required", False)
    try:
        policy.set_required_by_admin(get_firm(request), required, by=request.user)
    except policy.PolicyChangeRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            "Everyone in your firm must now use MFA; users without it were emailed."
            if required
            else "MFA is no longer required by your setting.",
        )
    return redirect("accounts:user-list")
