from django.contrib import admin

from accounts.admin import ReadOnlyAdmin

from .models import SyncRun, XpmConnection


@admin.register(XpmConnection)
class XpmConnectionAdmin(ReadOnlyAdmin):
    """Read-only, and never the tokens, even encrypted."""

    list_display = ["firm", "tenant_name", "status", "connected_by", "connected_at"]
    list_filter = ["status"]
    list_select_related = ["firm", "connected_by"]
    search_fields = ["firm__name", "tenant_name"]
    fields = (
        "firm", "status", "tenant_name", "tenant_id", "xero_connection_id", "connected_by",
        "connected_at", "access_token_expires_at", "token_refreshed_at", "reconnect_email_sent_at",
    )  # fmt: skip
    readonly_fields = fields


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["firm", "trigger", "status", "queued_at", "finished_at", "api_calls"]
    list_filter = ["status", "trigger"]
    list_select_related = ["firm"]
    search_fields = ["firm__name", "error"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]
