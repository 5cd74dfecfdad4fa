"""Manage Users (firm admins): the firm's users, their MFA, and the firm's MFA policy."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import mfa, policy
from ..access import firm_admin_required, get_firm, get_user_for_admin
from ..forms import AuditFilterForm, MfaPolicyForm, UserForm, UserSearchForm
from ..models import AuditEvent, User
from ..sudo import confirm_first, is_sudo, redirect_to_confirm
from ..users import UserChangeRefused, delete_user, invite_user, update_user

# Edits that need sudo mode: a role, deactivation, or the address a password reset goes to.
SUDO_FIELDS = {"role", "is_active", "email"}


@firm_admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    firm = get_firm(request)
    search = UserSearchForm(request.GET)
    users = User.objects.for_firm(firm).annotate(
        has_mfa=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    )
    if search.is_valid() and (q := search.cleaned_data["q"]):
        users = users.filter(
            Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(email__icontains=q)
        )
    context = {
        "page": Paginator(users, 50).get_page(request.GET.get("page")),
        "search": search,
        "firm": firm,
        "seats_used": firm.active_user_count(),
        "policy_form": MfaPolicyForm(initial={"required": firm.is_mfa_required_by_admin}),
    }
    return render(request, "accounts/user_list.html", context)


@firm_admin_required
def user_add(request: HttpRequest) -> HttpResponse:
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invite_user(
                get_firm(request), by=request.user, user=form.instance, request=request
            )
        except UserChangeRefused as refused:
            form.add_error(None, refused)
        else:
            messages.success(request, f"{user} was added and emailed an invitation.")
            return redirect("accounts:user-list")
    return render(request, "accounts/user_form.html", {"form": form})


@firm_admin_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    was_admin = user.is_firm_admin
    form = UserForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        if SUDO_FIELDS.intersection(form.changed_data) and not is_sudo(request):
            return redirect_to_confirm(request, request.path)
        try:
            update_user(form.instance, by=request.user, changed=form.changed_data, request=request)
        except UserChangeRefused as refused:
            form.add_error(None, refused)
        else:
            messages.success(request, f"{user} was updated.")
            return redirect("accounts:user-list")
    context = {
        "form": form,
        "subject": user,
        "subject_has_mfa": mfa.has_mfa(user),
        "subject_is_admin": was_admin,
    }
    return render(request, "accounts/user_form.html", context)


@require_POST
@firm_admin_required
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    if (confirm := confirm_first(request)) is not None:
        return confirm
    try:
        delete_user(user, by=request.user, request=request)
    except UserChangeRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{user} was deleted.")
    return redirect("accounts:user-list")


@require_POST
@firm_admin_required
def user_reset_mfa(request: HttpRequest, pk: int) -> HttpResponse:
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
def mfa_policy(request: HttpRequest) -> HttpResponse:
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


@firm_admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.for_firm(get_firm(request)).select_related("actor")
    filter_form = AuditFilterForm(request.GET)
    if filter_form.is_valid() and (action := filter_form.cleaned_data["action"]):
        events = events.filter(action=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit_log.html", {"page": page, "filter_form": filter_form})
