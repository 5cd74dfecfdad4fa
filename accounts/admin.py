from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, Q

from .models import AuditEvent, Firm, User

# The platform operator logs in through the portal's own login (throttled, and MFA-aware),
# never through a second password form.
admin.site.login = login_required(admin.site.login)  # type: ignore[method-assign]
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
