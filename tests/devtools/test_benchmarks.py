"""The benchmark commands still run end to end (small sizes; the figures come from make bench)."""

import io
import json

import pytest
from django.core.management import call_command

from accounts.models import Firm
from devtools.benchmarking import BENCH_FIRM


def _results(command: str, **options) -> list[dict]:
    out = io.StringIO()
    call_command(command, stdout=out, **options)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


@pytest.mark.django_db(transaction=True)  # bench_sync vacuums, which needs no open transaction
def test_bench_sync_reports_each_phase_and_an_identical_rerun_writes_nothing():
    phases = {r["phase"]: r for r in _results("bench_sync", clients=60, repeat=1)}
    assert list(phases) == ["first", "identical", "changed_1pct", "incremental_1pct"]
    assert phases["first"]["rows_inserted"] > 60
    assert phases["identical"]["rows_inserted"] == phases["identical"]["rows_updated"] == 0
    assert phases["identical"]["timeline_rows"] == 0
    assert phases["changed_1pct"]["rows_updated"] >= 1
    # XPM answered the quick sync with only the changed client: it wrote that and its timeline.
    quick = phases["incremental_1pct"]
    assert quick["rows_updated"] == phases["changed_1pct"]["rows_updated"]
    assert quick["timeline_rows"] == phases["changed_1pct"]["timeline_rows"] >= 1
    assert all(r["xpm_calls"] == 1 and r["peak_rss_mb"] > 0 for r in phases.values())
    assert not Firm.objects.filter(name=BENCH_FIRM).exists()


@pytest.mark.django_db(transaction=True)
def test_bench_sync_can_leave_the_timeline_off_for_a_comparison():
    (first,) = _results("bench_sync", clients=30, repeat=1, phases="first", no_timeline=True)
    assert first["timeline"] is False and first["timeline_rows"] == 0 < first["rows_inserted"]


@pytest.mark.django_db(transaction=True)
def test_bench_pages_times_every_page_with_a_steady_query_count():
    pages = {r["page"]: r for r in _results("bench_pages", clients=60, repeat=1)}
    assert set(pages) == {
        "list_first_page", "list_search", "list_filter_prospects", "list_late_page",
        "list_middle_page", "profile_details", "profile_contacts",
    }  # fmt: skip
    assert len({r["sql_queries"] for n, r in pages.items() if n.startswith("list_")}) == 1
    assert pages["profile_details"]["sql_queries"] == pages["profile_contacts"]["sql_queries"]
    assert not Firm.objects.filter(name=BENCH_FIRM).exists()
