from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from . import audit
from .access import firm_admin_required, firm_member_required, get_firm, get_user_for_admin
from .forms import LoginForm, ProfileForm, UserForm, UserSearchForm
from .models import AuditEvent, User
from .users import UserChangeRefused, delete_user, invite_user, update_user


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        if user.firm_id:
            audit.record(user.firm, AuditEvent.Action.LOGIN, actor=user, request=self.request)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    @property
    def extra_email_context(self) -> dict[str, str]:
        # Links are built from SITE_URL, never from the request's Host header.
        return {"site_url": settings.SITE_URL}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


class InvitationAcceptView(PasswordResetConfirmView):
    """An invited user chooses their first password through the reset-token machinery."""

    template_name = "accounts/invitation_accept.html"


@firm_member_required
def user_settings(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your details were saved.")
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:settings")

    def form_valid(self, form):
        messages.success(self.request, "Your password was changed.")
        return super().form_valid(form)


@firm_admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    firm = get_firm(request)
    search = UserSearchForm(request.GET)
    users = User.objects.for_firm(firm)
    if search.is_valid() and (q := search.cleaned_data["q"]):
        users = users.filter(
            Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(email__icontains=q)
        )
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    context = {"page": page, "search": search, "firm": firm, "seats_used": firm.active_user_count()}
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
    form = UserForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        try:
            update_user(form.instance, by=request.user, changed=form.changed_data, request=request)
        except UserChangeRefused as refused:
            form.add_error(None, refused)
        else:
            messages.success(request, f"{user} was updated.")
            return redirect("accounts:user-list")
    return render(request, "accounts/user_form.html", {"form": form, "subject": user})


@require_POST
@firm_admin_required
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    try:
        delete_user(user, by=request.user, request=request)
    except UserChangeRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{user} was deleted.")
    return redirect("accounts:user-list")


@firm_admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.for_firm(get_firm(request)).select_related("actor")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit_log.html", {"page": page})
