"""Manage Clients (firm admins)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import firm_admin_required, get_firm

from ..models import Client


@firm_admin_required
def manage_clients(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.for_firm(get_firm(request)).filter(is_archived=False)
    context = {
        "client_count": clients.count(),
        "xpm_count": clients.filter(source=Client.Source.XPM).count(),
    }
    return render(request, "clients/manage_clients.html", context)
