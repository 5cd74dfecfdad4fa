"""Client data health: possible duplicates and merging them (admins), and the worklist of
what XPM is missing (everyone; admins act)."""

from collections import defaultdict

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import firm_admin_required, firm_member_required, get_firm
from accounts.http import AuthenticatedHttpRequest
from accounts.sudo import confirm_first, sudo_required
from accounts.throttle import client_ip

from .. import duplicates, merge, worklist
from ..access import get_merge_for_admin, get_pair_for_admin
from ..models import ClientContact, DuplicatePair
from ..pagination import FromEitherEndPaginator

# Pairs shown per group: merging or dismissing them brings the next ones up.
PAIRS_SHOWN = 50
WORKLIST_PAGE = 50


@never_cache
@firm_admin_required
def duplicate_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    firm = get_firm(request)
    counts = duplicates.counts_for(firm)
    groups = [
        (confidence, label, list(duplicates.pairs_for(firm, confidence)[:PAIRS_SHOWN]))
        for confidence, label in DuplicatePair.Confidence.choices
    ]
    shown = [pair for _c, _l, pairs in groups for pair in pairs]
    contacts = _contacts_of({c for pair in shown for c in (pair.client_id, pair.xpm_client_id)})
    for pair in shown:  # what the page shows of each pair, set on it for the template
        rows = _comparison(pair)
        setattr(pair, "rows", rows)  # noqa: B010
        setattr(pair, "differing", [row["label"] for row in rows if row["differs"]])  # noqa: B010
        setattr(pair, "client_links", contacts.get(pair.client_id, []))  # noqa: B010
        setattr(pair, "xpm_links", contacts.get(pair.xpm_client_id, []))  # noqa: B010
    context = {
        "groups": [
            {"confidence": c, "label": label, "pairs": pairs, "count": counts[c]}
            for c, label, pairs in groups
        ],
        "same_count": counts[DuplicatePair.Confidence.SAME],
        "total": sum(counts.values()),
        "merges": list(merge.recent_merges(firm)[:20]),
        "shown_per_group": PAIRS_SHOWN,
    }
    return render(request, "clients/duplicates.html", context)


_SHOWN = (
    ("Name", lambda c: c.name),
    ("Email", lambda c: c.email),
    ("Phone", lambda c: c.phone),
    ("Address", lambda c: c.full_address),
    ("Postal address", lambda c: c.full_postal_address),
    ("Website", lambda c: c.website),
    ("Kind", lambda c: c.get_kind_display()),
    ("Prospect", lambda c: "Yes" if c.is_prospect else "No"),
)


def _comparison(pair: DuplicatePair) -> list[dict]:
    """Both sides' values, field by field, and whether they differ (case aside for email)."""
    rows = []
    for label, value_of in _SHOWN:
        mine, theirs = value_of(pair.client), value_of(pair.xpm_client)
        if not mine and not theirs:
            continue
        differs = (mine.casefold() != theirs.casefold()) if label == "Email" else mine != theirs
        rows.append({"label": label, "mine": mine, "theirs": theirs, "differs": differs})
    return rows


def _contacts_of(client_ids: set[int]) -> dict[int, list[ClientContact]]:
    links = (
        ClientContact.objects.filter(client_id__in=client_ids)
        .select_related("contact")
        .order_by("-is_primary", "contact__name", "id")
    )
    found: dict[int, list[ClientContact]] = defaultdict(list)
    for link in links:
        found[link.client_id].append(link)
    return found


@require_POST
@firm_admin_required
def duplicate_merge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    pair = get_pair_for_admin(request, pk)
    if (confirm := confirm_first(request)) is not None:
        return confirm
    try:
        done = merge.merge_pair(pair, by=request.user, ip=client_ip(request))
    except merge.CannotMerge as problem:
        messages.error(request, str(problem))
    else:
        messages.success(
            request,
            f"Merged “{done.client_name}” with XPM’s “{done.xpm_client_name}”: one client now, "
            "with both sides’ contacts. You can undo this below for 30 days.",
        )
    return redirect("clients:duplicate-list")


@require_POST
@firm_admin_required
@sudo_required
def duplicate_merge_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    count = request.POST.get("count", "")
    expected = int(count) if count.isdigit() else -1  # anything else matches no count
    try:
        merged = merge.merge_all_same(
            get_firm(request), by=request.user, expected=expected, ip=client_ip(request)
        )
    except merge.CannotMerge as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"Merged {merged} pair{'s' if merged != 1 else ''}.")
    return redirect("clients:duplicate-list")


@require_POST
@firm_admin_required
def duplicate_dismiss(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    pair = get_pair_for_admin(request, pk)
    merge.dismiss_pair(pair, by=request.user, ip=client_ip(request))
    messages.success(
        request,
        f"“{pair.client.name}” and XPM’s “{pair.xpm_client.name}” are kept apart, and the "
        "pair will not be proposed again.",
    )
    return redirect("clients:duplicate-list")


@require_POST
@firm_admin_required
def duplicate_refresh(request: AuthenticatedHttpRequest) -> HttpResponse:
    found = duplicates.refresh_duplicates(get_firm(request))
    messages.info(request, f"Looked again: {found} possible duplicate{'s' if found != 1 else ''}.")
    return redirect("clients:duplicate-list")


@require_POST
@firm_admin_required
def merge_undo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    done = get_merge_for_admin(request, pk)
    if (confirm := confirm_first(request)) is not None:
        return confirm
    try:
        merge.undo_merge(done, by=request.user, ip=client_ip(request))
    except merge.CannotUndo as problem:
        messages.error(request, str(problem))
    else:
        messages.success(
            request,
            f"Undone: “{done.client_name}” and XPM’s “{done.xpm_client_name}” are two "
            "clients again.",
        )
    return redirect("clients:duplicate-list")


@never_cache
@firm_member_required
def worklist_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    firm = get_firm(request)
    counts = worklist.counts(firm)
    key = request.GET.get("group", "")
    if key not in worklist.GROUP_KEYS:
        key = next((k for k, n in counts.items() if n), worklist.GROUPS[0].key)
    group = worklist.GROUP_KEYS[key]
    rows = worklist.rows(firm, key)
    page = FromEitherEndPaginator(rows, WORKLIST_PAGE, count=counts[key]).get_page(
        request.GET.get("page")
    )
    context = {
        "groups": [(g, counts[g.key]) for g in worklist.GROUPS],
        "group": group,
        "page": page,
        "total": sum(counts.values()),
        "is_connected": firm.is_connected_to_xpm,
    }
    return render(request, "clients/worklist.html", context)
