"""Keeping each client's primary contact right after its contacts change."""

from collections import defaultdict
from collections.abc import Iterable

from accounts.models import Firm

from .models import ClientContact
from .primary import Candidate, choose_primary

# Clients handled per round: keeps IN lists within every database's limits.
CHUNK = 2000
_CONTACT_FIELDS = (
    "contact__name",
    "contact__salutation",
    "contact__xpm_uuid",
    "contact__first_name",
)


def refresh_primary_contacts(firm: Firm, client_ids: Iterable[int]) -> int:
    """Re-apply the primary-contact rule to these clients; returns how many links changed.

    At most three queries per 2,000 clients, and no write when nothing changed.
    """
    ids = sorted(set(client_ids))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        changed += _refresh_chunk(firm, ids[start : start + CHUNK])
    return changed


def _refresh_chunk(firm: Firm, client_ids: list[int]) -> int:
    links = list(
        ClientContact.objects.for_firm(firm)
        .filter(client_id__in=client_ids)
        .select_related("contact")
        .only("id", "client_id", "is_primary", "is_xpm_primary", *_CONTACT_FIELDS)
        .order_by("client_id", "id")
    )
    by_client: dict[int, list[ClientContact]] = defaultdict(list)
    for link in links:
        by_client[link.client_id].append(link)
    chosen: set[int] = set()
    for client_links in by_client.values():
        result = choose_primary([_candidate(link) for link in client_links])
        if result is not None:
            chosen.add(client_links[result[0]].pk)
    to_clear = [link.pk for link in links if link.is_primary and link.pk not in chosen]
    to_set = [link.pk for link in links if not link.is_primary and link.pk in chosen]
    # Clear before setting: at most one primary per client is a database constraint.
    if to_clear:
        ClientContact.objects.filter(pk__in=to_clear).update(is_primary=False)
    if to_set:
        ClientContact.objects.filter(pk__in=to_set).update(is_primary=True)
    return len(to_clear) + len(to_set)


def _candidate(link: ClientContact) -> Candidate:
    contact = link.contact
    return Candidate(
        name=contact.name,
        salutation=contact.salutation,
        uuid=str(contact.xpm_uuid or ""),
        is_xpm_primary=link.is_xpm_primary,
        first_name=contact.first_name,
    )
