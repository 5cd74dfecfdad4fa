from django.contrib import admin

from .models import Client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "firm", "email", "source", "is_prospect", "is_archived"]
    list_filter = ["source", "is_prospect", "is_archived", "firm"]
    list_select_related = ["firm"]
    search_fields = ["name", "email"]
