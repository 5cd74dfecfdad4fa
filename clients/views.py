from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import firm_admin_required, firm_member_required, get_firm

from .access import get_client_for_user
from .forms import ClientSearchForm
from .models import Client


@firm_member_required
def client_list(request: HttpRequest) -> HttpResponse:
    firm = get_firm(request)
    search = ClientSearchForm(request.GET)
    clients = search.filter(Client.objects.for_firm(firm))
    page = Paginator(clients, 25).get_page(request.GET.get("page"))
    has_any = page.paginator.count or Client.objects.for_firm(firm).exists()
    context = {"page": page, "search": search, "has_any_client": has_any}
    return render(request, "clients/client_list.html", context)


@firm_member_required
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    return render(request, "clients/client_detail.html", {"client": client})


@firm_admin_required
def manage_clients(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.for_firm(get_firm(request))
    context = {
        "client_count": clients.filter(is_archived=False).count(),
        "xpm_count": clients.filter(is_archived=False, xpm_uuid__isnull=False).count(),
    }
    return render(request, "clients/manage_clients.html", context)
