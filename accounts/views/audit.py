"""The firm's audit log (admins): filtered, paged, and exported as CSV."""

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .. import audit
from ..access import firm_admin_required, get_firm
from ..forms import AuditFilterForm
from ..http import AuthenticatedHttpRequest
from ..models import AuditEvent

PAGE_SIZE = 25


def _filtered(request: AuthenticatedHttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    firm = get_firm(request)
    form = AuditFilterForm(request.GET, firm=firm)
    filters = form.cleaned_data if form.is_valid() else {}
    return form, audit.events_for(firm, **{k: v for k, v in filters.items() if v})


@firm_admin_required
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"page": page, "filter_form": form, "query": query.urlencode()}
    return render(request, "accounts/audit_log.html", context)


@firm_admin_required
def audit_log_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    _form, events = _filtered(request)
    firm = get_firm(request)
    response = HttpResponse(audit.events_csv(firm, events), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate(timezone=firm.zoneinfo).isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
