"""Benchmark the XPM sync: a first sync, an identical re-sync, a re-sync with 1% changed, and
a quick sync of that 1% (XPM answering ``modifiedsince`` with only the changed clients).

The generated practice is served over real HTTP by a small local server (streamed, as XPM would)
and fetched through the same client code as a real sync. Prints one JSON object per phase.
"""

import statistics

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Firm
from clients.models import Change
from devtools.benchmarking import (
    empty_firm,
    fresh_firm,
    peak_rss_mb,
    remove_firm,
    serve_practice,
    timed_sync,
    vacuum,
    write_results,
)
from xpmsync.models import SyncRun

# Each phase and the share of the practice its list changes (every Nth client; 0: none).
PHASES = {"first": 0, "identical": 0, "changed_1pct": 100, "incremental_1pct": 100}


class Command(BaseCommand):
    help = "Time the XPM sync at a given size and print one JSON object per phase."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=10_000)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--output", help="Also append the results to this JSON-lines file.")
        parser.add_argument(
            "--keep", action="store_true", help="Keep the synced benchmark firm afterwards."
        )
        parser.add_argument(
            "--no-timeline",
            action="store_true",
            help="Record no change timeline, to compare a sync's cost with and without it.",
        )
        parser.add_argument(
            "--phases",
            default=",".join(PHASES),
            help=f"Comma-separated phases to time (default: {','.join(PHASES)}).",
        )

    def handle(self, *args, clients, repeat, output, keep=False, **options):
        firm = fresh_firm()
        results = []
        timeline = not options.get("no_timeline")
        phases = [p for p in options.get("phases", ",".join(PHASES)).split(",") if p]
        with serve_practice(clients) as handler, override_settings(XPM_TIMELINE=timeline):
            for phase in phases:
                timings, last = [], None
                for _ in range(repeat):
                    self._prepare(phase, firm, handler)
                    handler.changed_every = PHASES[phase]
                    kind = SyncRun.Kind.QUICK if phase == "incremental_1pct" else SyncRun.Kind.FULL
                    last, seconds, queries = timed_sync(firm, kind=kind)
                    timings.append(seconds)
                result = self._report(phase, clients, timings, queries, last)
                results.append({**result, "timeline": timeline})
        if not keep:
            remove_firm(firm)
        write_results(self.stdout, results, output)

    def _prepare(self, phase: str, firm: Firm, handler) -> None:
        """Put the database in the state the phase starts from (not timed).

        Every repeat starts from a vacuumed database, as a daily sync finds it: otherwise
        autovacuum, woken by the previous repeat's writes, competes for the same two cores.
        """
        if phase == "first":
            empty_firm(firm)
        elif phase != "identical" or not SyncRun.objects.filter(firm=firm).exists():
            handler.changed_every = 0  # yesterday's practice, synced, before each changed run
            timed_sync(firm)
        vacuum()

    def _report(self, phase, clients, timings, queries, run) -> dict:
        counts = run.counts
        inserted = counts["clients_created"] + counts["contacts_created"]
        updated = (
            counts["clients_updated"]
            + counts["clients_archived"]
            + counts["clients_restored"]
            + counts["contacts_updated"]
        )
        return {
            "benchmark": "sync",
            "phase": phase,
            "clients": clients,
            "seconds_median": round(statistics.median(timings), 3),
            "seconds_all": [round(t, 3) for t in timings],
            "sql_queries": queries,
            "rows_inserted": inserted,
            "rows_updated": updated,
            "peak_rss_mb": peak_rss_mb(),
            "xpm_calls": run.api_calls,
            "timeline_rows": Change.objects.filter(sync_run_id=run.pk).count(),
            "database": connection.vendor,
            "at": timezone.now().isoformat(timespec="seconds"),
        }
