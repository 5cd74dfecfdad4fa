"""Benchmark the XPM sync: a first sync, an identical re-sync, and a re-sync with 1% changed.

The generated practice is served over real HTTP by a small local server (streamed, as XPM would)
and fetched through the same client code as a real sync. Prints one JSON object per phase.
"""

import json
import resource
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Firm, User
from clients.models import Client, ClientContact, Contact
from xpmsync import sync
from xpmsync.models import SyncRun, XpmConnection
from xpmsync.sandbox.practice import practice_xml

BENCH_FIRM = "Benchmark Practice (bench_sync)"


class _PracticeHandler(BaseHTTPRequestHandler):
    # The practice is written to files first, so generating it costs nothing while timing.
    files: dict[int, Path] = {}
    changed_every = 0

    def do_GET(self):
        path = self.files[self.changed_every]
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("X-DayLimit-Remaining", "4999")
        self.end_headers()
        with path.open("rb") as file:
            shutil.copyfileobj(file, self.wfile, 256 * 1024)

    def log_message(self, *args):
        pass


@contextmanager
def serve_practice(clients: int):
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for changed_every in (0, 100):
            files[changed_every] = Path(folder) / f"practice-{changed_every}.xml"
            with files[changed_every].open("wb") as file:
                for chunk in practice_xml(clients, changed_every=changed_every):
                    file.write(chunk)
        handler = type("Handler", (_PracticeHandler,), {"files": files})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server, handler
        finally:
            server.shutdown()


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def write_results(stdout, results: list[dict], output: str | None) -> None:
    """Print one JSON object a line, and append them to ``output`` when given."""
    for result in results:
        line = json.dumps(result)
        stdout.write(line)
        if output:
            with open(output, "a") as file:
                file.write(line + "\n")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Command(BaseCommand):
    help = "Time the XPM sync at a given size and print one JSON object per phase."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=10_000)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--output", help="Also append the results to this JSON-lines file.")
        parser.add_argument(
            "--keep", action="store_true", help="Keep the synced benchmark firm (for bench_pages)."
        )

    def handle(self, *args, clients, repeat, output, keep=False, **options):
        firm, connection_row = self._fresh_firm()
        results = []
        with serve_practice(clients) as (server, handler):
            url = f"http://127.0.0.1:{server.server_port}/"
            dummy_mail = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}
            # DEBUG off, as in production: no query log growing in memory as it runs.
            with override_settings(DEBUG=False, XPM_API_URL=url, MAILERS=dummy_mail):
                for phase, changed_every in (("first", 0), ("identical", 0), ("changed_1pct", 100)):
                    timings, last = [], None
                    for _ in range(repeat):
                        self._prepare(phase, firm, handler)
                        handler.changed_every = changed_every
                        last, seconds, queries = self._timed_run(firm, connection_row)
                        timings.append(seconds)
                    results.append(self._report(phase, clients, timings, queries, last))
        if not keep:
            self._cleanup(firm)
        write_results(self.stdout, results, output)

    def _fresh_firm(self):
        self._cleanup(Firm.objects.filter(name=BENCH_FIRM).first())
        firm = Firm.objects.create(name=BENCH_FIRM, seat_limit=1)
        admin = User.objects.create_user(
            f"bench-{int(time.time())}@bench.invalid", None, firm=firm, role=User.Role.ADMIN
        )
        row = XpmConnection(
            firm=firm, status="active", tenant_id="bench", tenant_name="Bench", connected_by=admin
        )
        row.set_tokens({"access_token": "bench", "refresh_token": "bench", "expires_in": 86400})
        row.save()
        return firm, row

    def _prepare(self, phase: str, firm: Firm, handler) -> None:
        """Put the database in the state the phase starts from (not timed).

        Every repeat starts from a vacuumed database, as a daily sync finds it: otherwise
        autovacuum, woken by the previous repeat's writes, competes for the same two cores.
        """
        if phase == "first":
            self._empty(firm)
        elif phase == "changed_1pct":
            handler.changed_every = 0  # back to yesterday's practice before each changed run
            self._timed_run(firm, XpmConnection.objects.get(firm=firm))
        self._vacuum()

    def _empty(self, firm: Firm) -> None:
        """Delete the firm's clients in SQL: the ORM's cascade would load every row into this
        process and inflate the peak RSS the benchmark reports."""
        with connection.cursor() as cursor:
            for model in (ClientContact, Contact, Client):
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"DELETE FROM {table} WHERE firm_id = %s", [firm.pk])  # noqa: S608

    def _vacuum(self) -> None:
        """Clear the dead rows earlier repeats left, so each repeat starts from the same state."""
        if connection.vendor != "postgresql":
            return
        tables = ["clients_client", "clients_contact", "clients_clientcontact"]
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE " + ", ".join(tables))

    def _timed_run(self, firm: Firm, connection_row):
        run = SyncRun.objects.create(firm=firm, trigger=SyncRun.Trigger.MANUAL)
        counter = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            sync.run_sync(run.pk, firm.pk)
        seconds = time.perf_counter() - started
        run.refresh_from_db()
        if run.status != SyncRun.Status.SUCCEEDED:
            raise RuntimeError(f"bench sync failed: {run.error}")
        return run, seconds, counter.count

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
            "database": connection.vendor,
            "at": timezone.now().isoformat(timespec="seconds"),
        }

    def _cleanup(self, firm: Firm | None) -> None:
        if firm is not None:
            self._empty(firm)
            firm.delete()
