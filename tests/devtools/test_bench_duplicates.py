"""bench_duplicates still runs end to end (a small size; the figure comes from a full run)."""

import io
import json

import pytest
from django.core.management import call_command

from accounts.models import Firm
from devtools.benchmarking import BENCH_FIRM


@pytest.mark.django_db(transaction=True)
def test_bench_duplicates_finds_the_pairs_it_seeded_and_cleans_up():
    out = io.StringIO()
    call_command("bench_duplicates", xpm_clients=200, portal_clients=40, repeat=1, stdout=out)
    phases = {r["phase"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert list(phases) == ["find", "store_first", "look_again_unchanged"]
    assert all(r["pairs_same"] == 10 for r in phases.values())  # a quarter are XPM's, rewritten
    assert phases["find"]["pairs_likely"] >= 10  # the misspelt quarter, and shared emails
    assert not Firm.objects.filter(name=BENCH_FIRM).exists()
