"""Finding a firm's clients: the list's filter, its search text and its order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import Firm

from .models import Client

SHOWS = ("clients", "prospects", "archived", "all")
ORDERINGS: dict[str, list] = {
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
    # For a search: how many clients the filter hides also match, by the filter that shows
    # them ("prospects", "archived"); only filters with a match are present.
    elsewhere: dict[str, int] = field(default_factory=dict)


# Which of the list's filters shows a client: every client is in exactly one group.
GROUPS = {
    "clients": Q(is_archived=False, is_prospect=False),
    "prospects": Q(is_archived=False, is_prospect=True),
    "archived": Q(is_archived=True),
}
SHOWN_GROUPS = {
    "clients": ("clients",),
    "prospects": ("prospects",),
    "archived": ("archived",),
    "all": ("clients", "prospects", "archived"),
}


def search_clients(
    firm: Firm, *, q: str = "", show: str = "clients", sort: str = "name"
) -> SearchResult:
    """The firm's clients shown by ``show``, whose name or email, or a contact's name, contains
    ``q``, in the order ``sort`` names; with how many the filter hides also match ``q``.

    The search runs over all of the firm's clients once, so telling "1 prospect matches" costs
    no extra query.
    """
    firm_clients = Client.objects.for_firm(firm)
    clients = _shown(firm_clients, show)
    count = None
    elsewhere: dict[str, int] = {}
    if q:
        shown = SHOWN_GROUPS.get(show, SHOWN_GROUPS["clients"])
        matching = _matching(firm_clients, q)
        if isinstance(matching, list):
            by_group: dict[str, list[int]] = defaultdict(list)
            for pk, is_archived, is_prospect in matching:
                by_group[_group(is_archived=is_archived, is_prospect=is_prospect)].append(pk)
            ids = [pk for group in shown for pk in by_group[group]]
            clients, count = clients.filter(pk__any_of=ids), len(ids)
            tallies = {group: len(pks) for group, pks in by_group.items()}
        else:
            # Too many to list: one aggregate counts them all, so the page need not count.
            clients = clients.filter(pk__in=matching)
            tallies = firm_clients.filter(pk__in=matching).aggregate(
                **{group: Count("pk", filter=where) for group, where in GROUPS.items()}
            )
            count = sum(tallies[group] for group in shown)
        elsewhere = {
            group: tallies[group] for group in GROUPS if group not in shown and tallies.get(group)
        }
    return SearchResult(
        clients=clients.order_by(*(ORDERINGS.get(sort) or ORDERINGS["name"])),
        count=count,
        elsewhere=elsewhere,
    )


def _group(*, is_archived: bool, is_prospect: bool) -> str:
    if is_archived:
        return "archived"
    return "prospects" if is_prospect else "clients"


def _shown(clients: QuerySet[Client], show: str) -> QuerySet[Client]:
    match show:
        case "prospects":
            return clients.filter(GROUPS["prospects"])
        case "archived":
            return clients.filter(GROUPS["archived"])
        case "all":
            return clients
        case _:
            return clients.filter(GROUPS["clients"])


def _matching(clients: QuerySet[Client], q: str) -> list[tuple[int, bool, bool]] | QuerySet:
    """``(id, is_archived, is_prospect)`` of ``clients`` whose name or email, or a contact's
    name, contains ``q``; or, past MATERIALISE_UP_TO of them, a subquery of their ids.

    One set from three index-friendly parts (each served by a trigram index on PostgreSQL),
    rather than an OR the planner can only check row by row. The set is fetched once and handed
    to the page's rows as plain ids, with their number as the page's count, so the search runs
    once, not twice; a very broad search stays a subquery rather than a list of tens of
    thousands of ids.
    """
    rows = _union(clients, q, "pk", "is_archived", "is_prospect")
    found = list(rows[: MATERIALISE_UP_TO + 1])
    if len(found) > MATERIALISE_UP_TO:
        return _union(clients, q, "pk")
    return found


def _union(clients: QuerySet[Client], q: str, *fields: str) -> QuerySet:
    return (
        clients.order_by()
        .filter(name__icontains=q)
        .values_list(*fields)
        .union(
            clients.order_by().filter(email__icontains=q).values_list(*fields),
            clients.order_by().filter(links__contact__name__icontains=q).values_list(*fields),
        )
        .order_by()
    )
