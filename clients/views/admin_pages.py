"""Manage Clients (firm admins)."""

from django.http import HttpResponse
from django.shortcuts import render

from accounts.access import firm_admin_required, get_firm
from accounts.http import AuthenticatedHttpRequest
from xpmsync.panel import connection_of, panel_context

from ..models import Client, DuplicatePair


@firm_admin_required
def manage_clients(request: AuthenticatedHttpRequest) -> HttpResponse:
    firm = get_firm(request)
    clients = Client.objects.for_firm(firm).filter(is_archived=False)
    connection = connection_of(firm)
    context = {
        "client_count": clients.count(),
        "xpm_count": clients.filter(source=Client.Source.XPM).count(),
        "connection": connection,
        "possible_duplicates": DuplicatePair.objects.for_firm(firm).count(),
        **(panel_context(connection) if connection and connection.is_connected else {}),
    }
    return render(request, "clients/manage_clients.html", context)
