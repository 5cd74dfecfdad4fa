"""CSV Import: template, upload, preview, confirm, summary."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import firm_member_required, get_firm
from accounts.http import AuthenticatedHttpRequest

from .. import csv_import
from ..forms import CsvUploadForm
from ..models import ClientImport


@firm_member_required
def import_template(request: AuthenticatedHttpRequest) -> HttpResponse:
    response = HttpResponse(csv_import.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="client-import-template.csv"'
    return response


@never_cache
@firm_member_required
def import_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = CsvUploadForm(request.POST if posted else None, request.FILES if posted else None)
    if getattr(request, "upload_too_large", False):
        form.refuse_as_too_large()
    elif posted and form.is_valid():
        filename, csv_file = form.cleaned_data["file"]
        preview = csv_import.create_preview(
            get_firm(request),
            by=request.user,
            filename=filename,
            rows=csv_file.rows,
            ignored_columns=csv_file.ignored_columns,
        )
        return redirect("clients:import-preview", pk=preview.pk)
    context = {"form": form, "is_connected": get_firm(request).is_connected_to_xpm}
    return render(request, "clients/import_upload.html", context)


def _get_import(request: AuthenticatedHttpRequest, pk: int) -> ClientImport:
    """An import of the user's own firm, or 404."""
    return get_object_or_404(ClientImport.objects.for_firm(get_firm(request)), pk=pk)


@never_cache
@firm_member_required
def import_preview(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client_import = _get_import(request, pk)
    if client_import.status == ClientImport.Status.APPLIED:
        return redirect("clients:import-summary", pk=pk)
    plan = csv_import.plan_import(get_firm(request), client_import.rows)
    context = {"import": client_import, "plan": plan, "counts": plan.counts}
    return render(request, "clients/import_preview.html", context)


@require_POST
@firm_member_required
def import_confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client_import = _get_import(request, pk)
    fingerprint = request.POST.get("plan", "")
    try:
        csv_import.apply_import(client_import, by=request.user, fingerprint=fingerprint)
    except csv_import.StalePreview as stale:
        messages.error(request, str(stale))
        return redirect("clients:import-preview", pk=pk)
    except csv_import.ImportExpired as expired:
        messages.error(request, str(expired))
        return redirect("clients:import")
    return redirect("clients:import-summary", pk=pk)


@never_cache
@firm_member_required
def import_summary(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client_import = _get_import(request, pk)
    if client_import.status != ClientImport.Status.APPLIED:
        return redirect("clients:import-preview", pk=pk)
    return render(request, "clients/import_summary.html", {"import": client_import})
