from django.urls import path

from .views import admin_pages, health, history, imports, pages

app_name = "clients"

urlpatterns = [
    path("", pages.client_list, name="client-list"),
    path("add/", pages.client_add, name="client-add"),
    path("<int:pk>/", pages.client_detail, name="client-detail"),
    path("<int:pk>/contacts/", pages.client_contacts, name="client-contacts"),
    path("<int:pk>/history/", history.client_history, name="client-history"),
    path("<int:pk>/edit/", pages.client_edit, name="client-edit"),
    path("<int:pk>/archive/", pages.client_archive, name="client-archive"),
    path("<int:pk>/delete/", pages.client_delete, name="client-delete"),
    path("<int:pk>/email/", pages.client_email, name="client-email"),
    path("import/", imports.import_upload, name="import"),
    path("import/template.csv", imports.import_template, name="import-template"),
    path("import/<int:pk>/", imports.import_preview, name="import-preview"),
    path("import/<int:pk>/confirm/", imports.import_confirm, name="import-confirm"),
    path("import/<int:pk>/done/", imports.import_summary, name="import-summary"),
    path("manage/", admin_pages.manage_clients, name="manage-clients"),
    path("duplicates/", health.duplicate_list, name="duplicate-list"),
    path("duplicates/look-again/", health.duplicate_refresh, name="duplicate-refresh"),
    path("duplicates/merge-same/", health.duplicate_merge_all, name="duplicate-merge-all"),
    path("duplicates/<int:pk>/merge/", health.duplicate_merge, name="duplicate-merge"),
    path("duplicates/<int:pk>/not-the-same/", health.duplicate_dismiss, name="duplicate-dismiss"),
    path("merges/<int:pk>/undo/", health.merge_undo, name="merge-undo"),
    path("data-to-fix/", health.worklist_page, name="worklist"),
]
