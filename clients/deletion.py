"""Deleting a client by hand, with the contacts that belonged to it alone."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count

from .models import Client, ClientContact, Contact


def delete_client(client: Client) -> int:
    """Delete ``client`` and every contact no other client has; returns how many contacts went.

    A contact linked to another client too stays there. Without this, a deleted client's
    contacts would linger unseen: nothing in the portal shows a contact with no client.
    """
    with transaction.atomic():
        linked = ClientContact.objects.for_firm(client.firm).filter(client=client)
        only_here = list(
            Contact.objects.for_firm(client.firm)
            .filter(pk__in=linked.values("contact_id"))
            .annotate(clients=Count("links"))
            .filter(clients=1)
            .values_list("pk", flat=True)
        )
        client.delete()
        deleted, _ = Contact.objects.for_firm(client.firm).filter(pk__in=only_here).delete()
    return deleted
