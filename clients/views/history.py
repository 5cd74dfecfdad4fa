"""A client's History tab: what changed, from what to what, when and by whom."""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.access import firm_member_required
from accounts.http import AuthenticatedHttpRequest

from .. import history
from ..access import get_client_for_user


@never_cache
@firm_member_required
def client_history(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    context = {
        "client": client,
        "links": list(client.links.all()),
        "tab": "history",
        "entries": history.timeline(client),
        "retention_years": settings.TIMELINE_RETENTION_DAYS // 365,
    }
    return render(request, "clients/client_history.html", context)
