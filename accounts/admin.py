from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from .models import AuditEvent, Firm, User


def operator_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The Django admin's login page, which never checks a password itself.

    Operators log in through the portal's own login (throttled, and MFA-aware). Django's admin
    login form, shown to anyone signed in who is not an operator, was a second, unthrottled
    password form; here a signed-in firm user is refused and nothing they post is checked.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.GET.get("next") or request.get_full_path())
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied("The platform administration is for platform operators only.")
    next_url = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect("admin:index")


def operator_password_change(request: HttpRequest, extra_context: dict | None = None):
    """The admin's own password change form skipped the throttle: use the portal's."""
    return redirect("accounts:password-change")


admin.site.login = operator_login  # type: ignore[method-assign]
admin.site.password_change = operator_password_change  # type: ignore[method-assign]
admin.site.site_header = "The Gap Portal — platform administration"


class UserInline(admin.TabularInline):
    model = User
    fields = ["email", "first_name", "last_name", "role", "is_active"]
    extra = 0
    show_change_link = True


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = ["name", "seat_limit", "active_users", "is_mfa_required_by_admin", "created_at"]
    search_fields = ["name"]
    inlines = [UserInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(active_users=Count("users", filter=Q(users__is_active=True)))
        )

    @admin.display(ordering="active_users")
    def active_users(self, firm: Firm) -> int:
        return firm.active_users  # type: ignore[attr-defined]


class OperatorUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "firm", "role")


class OperatorUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = OperatorUserCreationForm
    form = OperatorUserChangeForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "firm", "role", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff", "firm"]
    list_select_related = ["firm"]
    search_fields = ["email", "first_name", "last_name", "firm__name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name")}),
        ("Firm", {"fields": ("firm", "role", "is_active")}),
        ("Platform", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "firm", "role", "usable_password", "password1", "password2"),
            },
        ),
    )

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only what the operator changed: the row was read before any change the user or a
        # firm admin made meanwhile (a password, an MFA reset's session generation).
        columns = {field.name for field in User._meta.concrete_fields}
        obj.save(update_fields=[name for name in form.changed_data if name in columns])


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the platform writes itself (audit events, XPM connections, sync runs): look only."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "firm", "action", "actor_email", "detail", "ip_address"]
    list_filter = ["action", "firm"]
    list_select_related = ["firm"]
    search_fields = ["actor_email", "detail"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
