"""Finding a firm's clients: the list's filter, its search text and its order."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.db.models.functions import Lower

from accounts.models import Firm

from .models import Client

SHOWS = ("clients", "prospects", "archived", "all")
ORDERINGS = {
    "name": [Lower("name"), "id"],
    "-name": [Lower("name").desc(), "-id"],
    "-created": ["-created_at", "-id"],
    "created": ["created_at", "id"],
}
# A search matching up to this many clients is resolved to their ids first; see _matching.
MATERIALISE_UP_TO = 10_000


@dataclass(frozen=True)
class SearchResult:
    clients: QuerySet[Client]
    # How many clients matched, when the search resolved them to ids (else the page counts).
    count: int | None = None


def search_clients(
    firm: Firm, *, q: str = "", show: str = "clients", sort: str = "name"
) -> SearchResult:
    """The firm's clients shown by ``show``, whose name or email, or a contact's name, contains
    ``q``, in the order ``sort`` names."""
    clients = _shown(Client.objects.for_firm(firm), show)
    count = None
    if q:
        matching = _matching(clients, q)
        if isinstance(matching, list):
            clients, count = clients.filter(pk__any_of=matching), len(matching)
        else:
            clients = clients.filter(pk__in=matching)
    return SearchResult(
        clients=clients.order_by(*ORDERINGS.get(sort, ORDERINGS["name"])), count=count
    )


def _shown(clients: QuerySet[Client], show: str) -> QuerySet[Client]:
    match show:
        case "prospects":
            return clients.filter(is_archived=False, is_prospect=True)
        case "archived":
            return clients.filter(is_archived=True)
        case "all":
            return clients
        case _:
            return clients.filter(is_archived=False, is_prospect=False)


def _matching(clients: QuerySet[Client], q: str) -> list[int] | QuerySet:
    """The ids of ``clients`` whose name or email, or a contact's name, contains ``q``.

    One set from three index-friendly parts (each served by a trigram index on PostgreSQL),
    rather than an OR the planner can only check row by row. The set is fetched once and handed
    to the page's rows as plain ids, with their number as the page's count, so the search runs
    once, not twice; a very broad search stays a subquery rather than a list of tens of
    thousands of ids.
    """
    matches = (
        clients.order_by()
        .filter(name__icontains=q)
        .values_list("pk", flat=True)
        .union(
            clients.order_by().filter(email__icontains=q).values_list("pk", flat=True),
            clients.order_by()
            .filter(links__contact__name__icontains=q)
            .values_list("pk", flat=True),
        )
        .order_by()
    )
    ids = list(matches[: MATERIALISE_UP_TO + 1])
    if len(ids) > MATERIALISE_UP_TO:
        return matches
    return ids
