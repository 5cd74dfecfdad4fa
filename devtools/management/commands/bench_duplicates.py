"""Benchmark finding possible duplicates: N XPM clients and M clients added by hand or CSV.

The clients are bulk-created (no sync: the sync's own benchmark times that), with names as
unique as a real practice's: a quarter of the portal's clients are XPM's written another way
with the same email ("same"), a quarter are misspelt ("likely"), a tenth share an email under
another name ("likely"), the rest are new. Prints the median time of finding the pairs, of
storing them the first time, and of looking again when nothing changed, as JSON lines.
"""

import random
import statistics
import time
import uuid

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from clients.duplicates import find_duplicates, refresh_duplicates
from clients.models import Client, DuplicatePair
from devtools.benchmarking import QueryCounter, fresh_firm, remove_firm, write_results
from xpmsync import bulk

# Made-up words from consonant-vowel syllables: as varied as real surnames and place names
# (a few dozen syllables made every name share most of its trigrams with thousands of others).
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwyz" for v in "aeiou"] + ["ston", "ley", "ford"]
KINDS = [
    "Bakery", "Plumbing", "Electrical", "Dental", "Consulting", "Holdings", "Motors", "Joinery",
    "Physio", "Logistics", "Landscaping", "Family Trust",
]  # fmt: skip
FIRST = ["Olivia", "Jack", "Amelia", "Noah", "Isla", "Aroha", "Priya", "Wei", "Sofía", "Grace"]


def _word(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return (word + rng.choice(["", "n", "r", "s", "t", "ll"])).capitalize()


def _names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        if rng.random() < 0.35:
            names.add(f"{rng.choice(FIRST)} {_word(rng)}")
        else:
            names.add(f"{_word(rng)} {_word(rng)} {rng.choice(KINDS)} Pty Ltd")
    return sorted(names)


def _misspelt(rng: random.Random, name: str) -> str:
    letters = list(name.removesuffix(" Pty Ltd"))
    at = rng.randrange(1, len(letters) - 1)
    letters[at], letters[at + 1] = letters[at + 1], letters[at]
    return "".join(letters)


def _rewritten(name: str) -> str:
    return name.upper().replace(" PTY LTD", " Limited")


class Command(BaseCommand):
    help = "Time finding possible duplicates among N XPM clients and M portal clients (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--xpm-clients", type=int, default=50_000)
        parser.add_argument("--portal-clients", type=int, default=2_000)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--output", help="Also append the results to this JSON-lines file.")

    def handle(self, *args, xpm_clients, portal_clients, repeat, output, **options):
        with override_settings(DEBUG=False):
            firm = fresh_firm()
            try:
                self._seed(firm, xpm_clients, portal_clients)
                results = [
                    self._time("find", firm, xpm_clients, portal_clients, repeat),
                    self._time("store_first", firm, xpm_clients, portal_clients, 1),
                    self._time("look_again_unchanged", firm, xpm_clients, portal_clients, repeat),
                ]
            finally:
                DuplicatePair.objects.filter(firm=firm).delete()
                remove_firm(firm)
        write_results(self.stdout, results, output)

    def _seed(self, firm, xpm_count: int, portal_count: int) -> None:
        rng = random.Random(16)  # noqa: S311 (test data)
        now = timezone.now()
        names = _names(rng, xpm_count + portal_count)
        rng.shuffle(names)
        theirs = [
            Client(
                firm=firm,
                name=name,
                email=f"client{n}@example.com",
                phone=f"(0{2 + n % 7}) {n:08d}"[:16],
                source=Client.Source.XPM,
                xpm_uuid=uuid.uuid4(),
                created_at=now,
                updated_at=now,
                last_synced_at=now,
            )
            for n, name in enumerate(names[:xpm_count])
        ]
        Client.objects.bulk_create(theirs, batch_size=5000)
        fresh = iter(names[xpm_count:])
        mine = []
        for n in range(portal_count):
            twin = theirs[rng.randrange(xpm_count)]
            share = n / portal_count
            if share < 0.25:
                name, email = _rewritten(twin.name), twin.email.upper()
            elif share < 0.5:
                name, email = _misspelt(rng, twin.name), ""
            elif share < 0.6:
                name, email = next(fresh), twin.email
            else:
                name, email = next(fresh), f"portal{n}@example.org"
            mine.append(
                Client(
                    firm=firm,
                    name=name,
                    email=email,
                    source=Client.Source.CSV,
                    created_at=now,
                    updated_at=now,
                )
            )
        Client.objects.bulk_create(mine, batch_size=5000)
        bulk.settle(Client)  # as after a big sync: merged GIN lists, fresh statistics

    def _time(self, phase: str, firm, xpm_count: int, portal_count: int, repeat: int) -> dict:
        timings, queries, found = [], 0, []
        for _ in range(repeat):
            counter = QueryCounter()
            started = time.perf_counter()
            with connection.execute_wrapper(counter):
                if phase == "find":
                    found = find_duplicates(firm)
                else:
                    refresh_duplicates(firm)
            timings.append(time.perf_counter() - started)
            queries = counter.count
        if phase != "find":
            found = list(DuplicatePair.objects.filter(firm=firm))  # type: ignore[arg-type]
        return {
            "benchmark": "duplicates",
            "phase": phase,
            "xpm_clients": xpm_count,
            "portal_clients": portal_count,
            "seconds_median": round(statistics.median(timings), 3),
            "seconds_all": [round(t, 3) for t in timings],
            "sql_queries": queries,
            "pairs_same": sum(1 for f in found if f.confidence == "same"),
            "pairs_likely": sum(1 for f in found if f.confidence == "likely"),
            "database": connection.vendor,
            "at": timezone.now().isoformat(timespec="seconds"),
        }
