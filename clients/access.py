"""Access helpers for clients: every lookup is scoped to the request's firm."""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from accounts.access import get_firm

from .models import Client


def get_client_for_user(request: HttpRequest, pk: int) -> Client:
    """A client of the user's own firm, or 404."""
    return get_object_or_404(Client.objects.for_firm(get_firm(request)), pk=pk)
