"""Access helpers for clients: every lookup is scoped to the request's firm."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.access import get_firm
from accounts.http import AuthenticatedHttpRequest

from .models import Client, ClientMerge, DuplicatePair


def get_client_for_user(request: AuthenticatedHttpRequest, pk: int) -> Client:
    """A client of the user's own firm, or 404."""
    return get_object_or_404(Client.objects.for_firm(get_firm(request)), pk=pk)


def get_manual_client_for_admin(request: AuthenticatedHttpRequest, pk: int) -> Client:
    """A client of the admin's firm that XPM does not manage; 404 or 403 otherwise."""
    client = get_client_for_user(request, pk)
    if client.is_managed_by_xpm:
        raise PermissionDenied("Clients from Xero Practice Manager are archived and deleted there.")
    return client


def get_pair_for_admin(request: AuthenticatedHttpRequest, pk: int) -> DuplicatePair:
    """A possible-duplicate pair of the admin's firm, or 404."""
    return get_object_or_404(
        DuplicatePair.objects.for_firm(get_firm(request)).select_related("client", "xpm_client"),
        pk=pk,
    )


def get_merge_for_admin(request: AuthenticatedHttpRequest, pk: int) -> ClientMerge:
    """A merge made in the admin's firm, or 404."""
    return get_object_or_404(ClientMerge.objects.for_firm(get_firm(request)), pk=pk)
