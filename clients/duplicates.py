"""Finding clients added by hand or by CSV that are probably the same as a client from XPM.

Matching on XPM UUIDs only keeps the sync from ever creating duplicates, and it also means a
hand-made "Aroha Bakery" and XPM's "Aroha Bakery Ltd" live side by side until someone merges
them. After every sync and CSV import the firm's portal clients are compared with its XPM
clients, and each probable pair is stored with its confidence and reasons:

- *same*: the names are equal once normalised (``name_key``: case, punctuation, accents,
  "&"/"and", legal forms like "Pty Ltd" ignored) and the email or phone is equal;
- *likely*: the names are equal but nothing else is, the names are very similar (trigram
  similarity of the normalised names, at least ``SIMILAR_NAMES``), or the email is the same on
  different names.

Similar names are scored with pg_trgm's similarity (the trigrams the search's indexes use),
computed here on the normalised names, and found with an exact prefix-filtered similarity join
in memory. The same code runs on PostgreSQL and SQLite, so both find the same pairs. (Asking
pg_trgm itself, through a trigram index on the normalised names, took 9 s for 2,000 names
against 50,000: the shared words of business names make every probe long.) A pair an admin
called "Not the same" is never proposed again.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, QuerySet

from accounts.models import Firm

from .models import Client, ClientContact, DuplicateDismissal, DuplicatePair

Confidence = DuplicatePair.Confidence

# Trigram similarity of normalised names from which a pair is "likely".
SIMILAR_NAMES = 0.6
# Similar-name matches kept per portal client: the best few, not every "Smith Family Trust".
MAX_SIMILAR = 3

# Words that say what legal form a business takes, not which business it is.
LEGAL_FORMS = frozenset(
    ["pty", "ltd", "limited", "proprietary", "inc", "incorporated", "llc", "plc", "pl", "corp",
     "corporation"]
)  # fmt: skip
_APOSTROPHES = re.compile(r"[’'`´]")
_NOT_WORD = re.compile(r"[\W_]+")
# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae",
                               "œ": "oe", "ı": "i"})  # fmt: skip


def name_key(name: str) -> str:
    """The name as compared: "The Café Crème & Co Pty. Ltd." → "cafe creme and co".

    Accents and case go, "&" and "+" read as "and", an apostrophe joins ("O'Brien" →
    "obrien"), other punctuation separates words, "P/L" and legal forms ("Pty Ltd",
    "Limited", "Inc") are left out, and so is a leading "The". A name made only of such words
    keeps them, so "Limited" alone still has a key.
    """
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).translate(_UNDECOMPOSED)
    plain = plain.replace("&", " and ").replace("+", " and ")
    plain = re.sub(r"\bp\s*/\s*l\b", " pl ", plain)
    plain = _APOSTROPHES.sub("", plain)
    words = _NOT_WORD.sub(" ", plain).split()
    kept = [word for word in words if word not in LEGAL_FORMS]
    if kept and kept[0] == "the" and len(kept) > 1:
        kept = kept[1:]
    return " ".join(kept or words)


def email_key(email: str) -> str:
    return email.strip().casefold()


def phone_key(phone: str) -> str:
    """The last eight digits: "(09) 123 4567" and "+64 9 123 4567" are one number."""
    digits = re.sub(r"\D", "", phone)
    return digits[-8:] if len(digits) >= 8 else ""


def trigrams(key: str) -> frozenset[str]:
    """pg_trgm's trigrams of a name: each word padded with two spaces before, one after."""
    grams: set[str] = set()
    for word in key.split():
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """pg_trgm's similarity: shared trigrams over all trigrams of either."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


@dataclass(frozen=True)
class Found:
    """A probable pair: the portal's client, XPM's, how sure and why."""

    client_id: int
    xpm_client_id: int
    confidence: str
    reasons: tuple[str, ...]
    similarity: float


@dataclass
class _Side:
    pk: int
    name: str
    email: str
    phone: str
    key: str = ""
    grams: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self.key = name_key(self.name)
        self.email = email_key(self.email)
        self.phone = phone_key(self.phone)


def _portal_clients(firm: Firm) -> list[_Side]:
    rows = (
        Client.objects.for_firm(firm)
        .filter(xpm_uuid__isnull=True, is_archived=False)
        .order_by("id")
        .values_list("id", "name", "email", "phone")
    )
    return [_Side(*row) for row in rows]


def _xpm_clients(firm: Firm) -> dict[int, _Side]:
    rows = (
        Client.objects.for_firm(firm)
        .filter(xpm_uuid__isnull=False, is_archived=False)
        .order_by()
        .values_list("id", "name", "email", "phone")
        .iterator(chunk_size=5000)
    )
    return {row[0]: _Side(*row) for row in rows}


def find_duplicates(firm: Firm) -> list[Found]:
    """Every probable pair in the firm, best first, leaving out pairs called "Not the same".

    Reads the firm's clients once (ids, names, emails and phones), plus one query for similar
    names on PostgreSQL and one for the contacts' emails of the name-equal pairs.
    """
    portal = _portal_clients(firm)
    if not portal:
        return []
    xpm = _xpm_clients(firm)
    if not xpm:
        return []
    by_key: dict[str, list[int]] = defaultdict(list)
    by_email: dict[str, list[int]] = defaultdict(list)
    by_phone: dict[str, list[int]] = defaultdict(list)
    for side in xpm.values():
        by_key[side.key].append(side.pk)
        if side.email:
            by_email[side.email].append(side.pk)
        if side.phone:
            by_phone[side.phone].append(side.pk)
    similar = _similar_names(portal, xpm)
    dismissed = set(
        DuplicateDismissal.objects.for_firm(firm).values_list("client_id", "xpm_client_id")
    )

    equal_names = [(mine.pk, pk) for mine in portal for pk in by_key.get(mine.key, ())]
    contact_emails = _contact_emails(firm, {pk for pair in equal_names for pk in pair})

    found: list[Found] = []
    for mine in portal:
        reasons: dict[int, list[str]] = defaultdict(list)
        scores: dict[int, float] = {}
        mine_emails = ({mine.email} | contact_emails.get(mine.pk, set())) - {""}
        for pk in by_key.get(mine.key, ()):
            theirs = xpm[pk]
            reasons[pk].append("Same name")
            scores[pk] = 1.0
            if mine.email and mine.email == theirs.email:
                reasons[pk].append("same email")
            elif mine_emails & (({theirs.email} | contact_emails.get(pk, set())) - {""}):
                reasons[pk].append("same contact email")
            if mine.phone and mine.phone == theirs.phone:
                reasons[pk].append("same phone")
        if mine.email:
            for pk in by_email.get(mine.email, ()):
                if pk not in reasons:
                    reasons[pk].append("Same email, different name")
                    scores[pk] = similarity(mine.grams or trigrams(mine.key), xpm[pk].grams)
        for pk, score in similar.get(mine.pk, ()):
            if pk not in reasons:
                reasons[pk].append(f"Similar name ({round(score * 100)}%)")
                scores[pk] = score
                if mine.phone and mine.phone == xpm[pk].phone:
                    reasons[pk].append("same phone")
        for pk, why in reasons.items():
            if (mine.pk, pk) in dismissed:
                continue
            same = why[0] == "Same name" and len(why) > 1
            found.append(
                Found(
                    client_id=mine.pk,
                    xpm_client_id=pk,
                    confidence=Confidence.SAME if same else Confidence.LIKELY,
                    reasons=(why[0], *why[1:]),
                    similarity=round(scores[pk], 4),
                )
            )
    found.sort(
        key=lambda f: (f.confidence != Confidence.SAME, -f.similarity, f.client_id, f.xpm_client_id)
    )
    return found


def _contact_emails(firm: Firm, client_ids: set[int]) -> dict[int, set[str]]:
    emails: dict[int, set[str]] = defaultdict(set)
    ids = sorted(client_ids)
    for start in range(0, len(ids), 2000):
        links = (
            ClientContact.objects.for_firm(firm)
            .filter(client_id__in=ids[start : start + 2000])
            .exclude(contact__email="")
            .values_list("client_id", "contact__email")
        )
        for client_id, email in links:
            emails[client_id].add(email_key(email))
    return emails


def _similar_names(
    portal: list[_Side],
    xpm: dict[int, _Side],
    *,
    candidates: dict[int, list[int]] | None = None,
) -> dict[int, list[tuple[int, float]]]:
    """For each portal client, the XPM clients with a similar name and their scores, best
    first (at most MAX_SIMILAR); names equal once normalised are left to the caller."""
    for side in (*xpm.values(), *portal):
        if not side.grams:
            side.grams = trigrams(side.key)
    if candidates is None:
        candidates = _candidates(portal, xpm)
    mine_by_pk = {side.pk: side for side in portal}
    similar: dict[int, list[tuple[int, float]]] = {}
    for mine_pk, pks in candidates.items():
        mine = mine_by_pk.get(mine_pk)
        if mine is None:
            continue
        grams, size = mine.grams, len(mine.grams)
        # A name with fewer than t * n or more than n / t trigrams cannot reach t.
        shortest, longest = SIMILAR_NAMES * size, size / SIMILAR_NAMES
        scored = []
        for pk in pks:
            theirs = xpm[pk]
            other = theirs.grams
            if not shortest <= len(other) <= longest or theirs.key == mine.key:
                continue
            shared = len(grams & other)
            score = shared / (size + len(other) - shared)
            if score >= SIMILAR_NAMES:
                scored.append((pk, score))
        if scored:
            scored.sort(key=lambda item: (-item[1], item[0]))
            similar[mine_pk] = scored[:MAX_SIMILAR]
    return similar


def _candidates(portal: list[_Side], xpm: dict[int, _Side]) -> dict[int, list[int]]:
    """For each portal name, the XPM names that may be at least SIMILAR_NAMES alike: an
    exact similarity join with prefix, length and positional filtering (Bayardo et al.,
    "Scaling up all pairs similarity search", 2007; Xiao et al., PPJoin, 2008).

    Each name's trigrams are ordered rarest first; two names whose similarity reaches t share
    a trigram among the first ``n - ceil(t * n) + 1`` of either's ``n``. Only those prefixes
    are indexed and probed, so "bakery" or "pty" (thousands of names) are rarely looked at.
    A name of ``m`` trigrams can only match one of ``n`` if ``t * n <= m <= n / t``, and a
    pair meeting in the prefixes at positions ``i`` and ``j`` can share at most what is left
    after them: a pair that cannot reach ``ceil(t / (1 + t) * (n + m))`` shared trigrams is
    dropped there. No pair that could reach t is missed.
    """
    frequency: Counter[str] = Counter()
    for side in (*xpm.values(), *portal):
        if not side.grams:
            side.grams = trigrams(side.key)
        frequency.update(side.grams)

    def ordered(grams: frozenset[str]) -> list[str]:
        return sorted(grams, key=lambda gram: (frequency[gram], gram))

    def prefix_length(size: int) -> int:
        # the small epsilon keeps 0.6 * 10 from rounding up to 7, which would shorten it
        return size - math.ceil(SIMILAR_NAMES * size - 1e-9) + 1

    index: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for side in xpm.values():
        grams = ordered(side.grams)
        for position, gram in enumerate(grams[: prefix_length(len(grams))]):
            index[gram].append((side.pk, position, len(grams)))
    ratio = SIMILAR_NAMES / (1 + SIMILAR_NAMES)
    candidates: dict[int, list[int]] = {}
    for mine in portal:
        grams = ordered(mine.grams)
        n = len(grams)
        shortest, longest = SIMILAR_NAMES * n - 1e-9, n / SIMILAR_NAMES + 1e-9
        shared: dict[int, int] = {}
        dropped: set[int] = set()
        for i, gram in enumerate(grams[: prefix_length(n)]):
            for pk, j, m in index.get(gram, ()):
                if pk in dropped or not shortest <= m <= longest:
                    continue
                needed = math.ceil(ratio * (n + m) - 1e-9)
                if shared.get(pk, 0) + 1 + min(n - i - 1, m - j - 1) >= needed:
                    shared[pk] = shared.get(pk, 0) + 1
                else:
                    dropped.add(pk)
        found = [pk for pk in shared if pk not in dropped]
        if found:
            candidates[mine.pk] = sorted(found)
    return candidates


def refresh_duplicates(firm: Firm) -> int:
    """Look again for the firm's probable pairs and store them; returns how many there are.

    Pairs that still hold keep their rows (and when they were found); only the differences
    are written, so a look that finds what the last one found writes nothing.
    """
    found = {(f.client_id, f.xpm_client_id): f for f in find_duplicates(firm)}
    with transaction.atomic():
        stored = {
            (pair.client_id, pair.xpm_client_id): pair
            for pair in DuplicatePair.objects.for_firm(firm).select_for_update()
        }
        gone = [pair.pk for key, pair in stored.items() if key not in found]
        if gone:
            DuplicatePair.objects.filter(pk__in=gone).delete()
        to_update = []
        for key, pair in stored.items():
            now = found.get(key)
            if now is None:
                continue
            values = (now.confidence, list(now.reasons), now.similarity)
            if (pair.confidence, pair.reasons, pair.similarity) != values:
                pair.confidence, pair.reasons, pair.similarity = values
                to_update.append(pair)
        if to_update:
            DuplicatePair.objects.bulk_update(
                to_update, ["confidence", "reasons", "similarity"], batch_size=1000
            )
        new = [
            DuplicatePair(
                firm=firm,
                client_id=f.client_id,
                xpm_client_id=f.xpm_client_id,
                confidence=f.confidence,
                reasons=list(f.reasons),
                similarity=f.similarity,
            )
            for key, f in found.items()
            if key not in stored
        ]
        if new:
            DuplicatePair.objects.bulk_create(new, batch_size=1000)
    return len(found)


def pairs_for(firm: Firm, confidence: str = "") -> QuerySet[DuplicatePair]:
    """The firm's stored pairs, best first, with both clients loaded."""
    pairs = DuplicatePair.objects.for_firm(firm).select_related("client", "xpm_client")
    if confidence:
        pairs = pairs.filter(confidence=confidence)
    return pairs.order_by("-similarity", "client__name", "id")


def counts_for(firm: Firm) -> dict[str, int]:
    """How many pairs of each confidence the firm has: ``{"same": 2, "likely": 5}``."""
    counts = dict.fromkeys(DuplicatePair.Confidence.values, 0)
    rows = (
        DuplicatePair.objects.for_firm(firm)
        .order_by()
        .values_list("confidence")
        .annotate(n=Count("id"))
    )
    for confidence, n in rows:
        counts[confidence] = n
    return counts


def drop_pairs_of(client_ids: Iterable[int]) -> None:
    """Forget the stored pairs that involve these clients (after a merge changed them)."""
    ids = list(client_ids)
    DuplicatePair.objects.filter(client_id__in=ids).delete()
    DuplicatePair.objects.filter(xpm_client_id__in=ids).delete()
