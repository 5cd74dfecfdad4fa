"""What the benchmarks and the load run share (bench_sync, bench_pages, load_run).

A generated practice served over real local HTTP (as XPM streams it), a benchmark firm
connected to it, timed syncs with their query counts, a signed-in MFA-verified test client, and
the JSON-lines output. Nothing here runs in the portal itself.
"""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Firm, User
from clients.models import Change, Client, ClientContact, Contact
from xpmsync import sync
from xpmsync.models import SyncRun, XpmConnection
from xpmsync.sandbox.practice import practice_xml

BENCH_FIRM = "Benchmark Practice (bench_sync)"
TABLES = (Change, ClientContact, Contact, Client)


class _PracticeHandler(BaseHTTPRequestHandler):
    # The practice is written to files first, so generating it costs nothing while timing.
    files: dict[object, Path] = {}
    changed_every = 0

    def do_GET(self):
        # A quick sync asks for what changed: only the changed clients, as XPM answers.
        quick = "modifiedsince=" in self.path.lower() and self.changed_every
        path = self.files[("only", self.changed_every) if quick else self.changed_every]
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
    """Serve a practice of ``clients`` clients and point the sync at it; yields the handler
    class, whose ``changed_every`` (0, or 100 for 1% changed) picks yesterday's or today's list.

    Inside, DEBUG is off as in production (no query log growing as it runs) and email is dropped.
    """
    with tempfile.TemporaryDirectory() as folder:
        files: dict[object, Path] = {}
        for changed_every in (0, 100):
            files[changed_every] = Path(folder) / f"practice-{changed_every}.xml"
            with files[changed_every].open("wb") as file:
                for chunk in practice_xml(clients, changed_every=changed_every):
                    file.write(chunk)
        files[("only", 100)] = Path(folder) / "practice-changed-only-100.xml"
        with files[("only", 100)].open("wb") as file:
            for chunk in practice_xml(clients, changed_every=100, only=lambda n: n % 100 == 0):
                file.write(chunk)
        handler = type("Handler", (_PracticeHandler,), {"files": files})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        dropped = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}
        url = f"http://127.0.0.1:{server.server_port}/"
        try:
            with override_settings(DEBUG=False, XPM_API_URL=url, MAILERS=dropped):
                yield handler
        finally:
            server.shutdown()


class QueryCounter:
    """An execute wrapper counting the statements that reach the database."""

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


def fresh_firm() -> Firm:
    """The benchmark firm, new and empty, with an admin and an active XPM connection."""
    remove_firm(Firm.objects.filter(name=BENCH_FIRM).first())
    firm = Firm.objects.create(name=BENCH_FIRM, seat_limit=1)
    admin = User.objects.create_user(
        f"bench-{int(time.time())}@bench.invalid", None, firm=firm, role=User.Role.ADMIN
    )
    row = XpmConnection(
        firm=firm,
        status=XpmConnection.Status.ACTIVE,
        tenant_id="bench",
        tenant_name="Bench",
        connected_by=admin,
    )
    row.set_tokens({"access_token": "bench", "refresh_token": "bench", "expires_in": 86400})
    row.save()
    return firm


def empty_firm(firm: Firm) -> None:
    """Delete the firm's clients in SQL: the ORM's cascade would load every row into this
    process and inflate the peak RSS the benchmark reports."""
    with connection.cursor() as cursor:
        for model in TABLES:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE firm_id = %s", [firm.pk])  # noqa: S608


def remove_firm(firm: Firm | None) -> None:
    if firm is not None:
        empty_firm(firm)
        firm.delete()


def vacuum() -> None:
    """Clear the dead rows earlier repeats left, so each repeat starts from the same state."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in TABLES)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + tables)


def timed_sync(firm: Firm, *, kind: str = SyncRun.Kind.FULL) -> tuple[SyncRun, float, int]:
    """Run one sync of ``firm`` in this process: the run, its seconds and its SQL queries."""
    run = SyncRun.objects.create(firm=firm, trigger=SyncRun.Trigger.MANUAL, kind=kind)
    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        sync.run_sync(run.pk, firm.pk)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != SyncRun.Status.SUCCEEDED:
        raise RuntimeError(f"bench sync failed: {run.error}")
    return run, seconds, counter.count


def verified_client(firm: Firm) -> HttpClient:
    """A test client signed in as the firm's admin, its session MFA-verified."""
    user = User.objects.filter(firm=firm).first()
    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    http = HttpClient()
    http.force_login(user)
    session = http.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return http
