from django.contrib import admin

from .models import SyncRun, XpmConnection


@admin.register(XpmConnection)
class XpmConnectionAdmin(admin.ModelAdmin):
    """Read-only, and never the tokens, even encrypted."""

    list_display = ["firm", "tenant_name", "status", "connected_by", "connected_at"]
    list_filter = ["status"]
    list_select_related = ["firm", "connected_by"]
    search_fields = ["firm__name", "tenant_name"]
    fields = [
        "firm", "status", "tenant_name", "tenant_id", "xero_connection_id", "connected_by",
        "connected_at", "access_token_expires_at", "token_refreshed_at", "reconnect_email_sent_at",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["firm", "trigger", "status", "queued_at", "finished_at", "api_calls"]
    list_filter = ["status", "trigger"]
    list_select_related = ["firm"]
    search_fields = ["firm__name", "error"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
