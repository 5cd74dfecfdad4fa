"""The Clients area: list, profile tabs, adding and editing by hand, archiving, emailing."""

from email.utils import parseaddr
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import firm_admin_required, firm_member_required, get_firm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User

from .. import history
from ..access import get_client_for_user, get_manual_client_for_admin
from ..deletion import delete_client
from ..emailing import NoEmailAddress, draft_message, email_client, recipient, sender_address
from ..forms import ClientForm, ClientSearchForm, EmailClientForm
from ..guidance import after_changing_in_xpm
from ..models import Change, Client, ClientContact
from ..pagination import FromEitherEndPaginator
from ..search import search_clients

PAGE_SIZE = 25


@never_cache
@firm_member_required
def client_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    firm = get_firm(request)
    search = ClientSearchForm(request.GET)
    criteria = search.criteria()
    found = search_clients(firm, **criteria)
    primary_links = ClientContact.objects.filter(is_primary=True).select_related("contact")
    clients = found.clients.prefetch_related(
        Prefetch("links", queryset=primary_links, to_attr="primary_links")
    )
    paginator = FromEitherEndPaginator(clients, PAGE_SIZE, count=found.count)
    page = paginator.get_page(request.GET.get("page"))
    has_any = page.paginator.count > 0 or Client.objects.for_firm(firm).exists()
    context = {
        "page": page,
        "search": search,
        "has_any_client": has_any,
        "also_matching": _also_matching(found.elsewhere, criteria),
    }
    return render(request, "clients/client_list.html", context)


# What the list says of matches its filter hides: "1 prospect matches — show".
_HIDDEN_MATCHES = {
    "prospects": ("prospect matches", "prospects match"),
    "archived": ("archived client matches", "archived clients match"),
    "clients": ("current client matches", "current clients match"),
}


def _also_matching(elsewhere: dict[str, int], criteria: dict[str, str]) -> list[dict[str, str]]:
    return [
        {
            "text": f"{count} {_HIDDEN_MATCHES[show][0 if count == 1 else 1]}",
            "url": "?" + urlencode({**criteria, "show": show}),
        }
        for show, count in elsewhere.items()
    ]


@never_cache
@firm_member_required
def client_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    context = _profile_context(client, tab="details", reader=request.user)
    return render(request, "clients/client_detail.html", context)


@never_cache
@firm_member_required
def client_contacts(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    context = _profile_context(client, tab="contacts", reader=request.user)
    return render(request, "clients/client_contacts.html", context)


def _profile_context(client: Client, *, tab: str, reader: User) -> dict:
    links = list(client.links.select_related("contact").order_by("-is_primary", "contact__name"))
    primary = next((link for link in links if link.is_primary), None)
    # What brings a change made in XPM here: Sync Now for admins, whom to ask for staff.
    next_step = after_changing_in_xpm(reader) if client.is_from_xpm else ""
    return {
        "client": client,
        "links": links,
        "primary": primary,
        "tab": tab,
        "xpm_next_step": next_step,
    }


@firm_member_required
def client_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    firm = get_firm(request)
    form = ClientForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        duplicates = form.find_duplicates(Client.objects.for_firm(firm))
        if not duplicates or request.POST.get("confirm_duplicate"):
            client = form.save(commit=False)
            client.firm = firm
            client.source = Client.Source.MANUAL
            client.save()
            history.record_added(
                firm, client_ids=[client.pk], source=Change.Source.MANUAL, by=request.user
            )
            messages.success(request, f"{client.name} was added.")
            return redirect("clients:client-detail", pk=client.pk)
    is_connected = firm.is_connected_to_xpm
    context = {
        "form": form,
        "duplicates": duplicates,
        "is_connected": is_connected,
        "xpm_next_step": after_changing_in_xpm(request.user) if is_connected else "",
    }
    return render(request, "clients/client_form.html", context)


@firm_member_required
def client_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    if client.is_managed_by_xpm:
        raise PermissionDenied("This client's details come from Xero Practice Manager.")
    before = history.snapshot(client)  # validating the form changes the instance
    form = ClientForm(request.POST or None, instance=client)
    if request.method == "POST" and form.is_valid():
        client = form.save(commit=False)
        client.updated_at = timezone.now()
        client.save()
        history.record_edit(client, before, by=request.user)
        messages.success(request, f"{client.name} was saved.")
        return redirect("clients:client-detail", pk=client.pk)
    return render(request, "clients/client_form.html", {"form": form, "client": client})


@require_POST
@firm_admin_required
def client_archive(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_manual_client_for_admin(request, pk)
    client.is_archived = request.POST.get("archive") != "no"
    client.save(update_fields=["is_archived"])
    history.record_archived(client, by=request.user)
    state = "archived" if client.is_archived else "restored"
    messages.success(request, f"{client.name} was {state}.")
    return redirect("clients:client-detail", pk=client.pk)


@require_POST
@firm_admin_required
def client_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_manual_client_for_admin(request, pk)
    name = client.name
    delete_client(client)
    messages.success(request, f"{name} was deleted.")
    return redirect("clients:client-list")


@never_cache
@firm_member_required
def client_email(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    try:
        contact, address = recipient(client, reader=request.user)
    except NoEmailAddress as missing:
        return render(
            request, "clients/client_email.html", {"client": client, "error": str(missing)}
        )
    initial = {"message": draft_message(contact, request.user)}
    form = EmailClientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        sent_to = email_client(client, sender=request.user, **form.cleaned_data)
        messages.success(request, f"Your email to {sent_to} was sent.")
        return redirect("clients:client-detail", pk=client.pk)
    context = {
        "client": client,
        "form": form,
        "contact": contact,
        "address": address,
        "from_name": parseaddr(sender_address(request.user))[0],
    }
    return render(request, "clients/client_email.html", context)
