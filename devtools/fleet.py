"""The fleet simulation's parts: the firms and their practices, the processes, the figures.

``simulate_fleet`` (the command) runs a compressed day with them: it makes a database of its
own, fills it with N firms whose practices were synced "yesterday", starts the simulated Xero
(``devtools.fleet_xpm``) and real Celery workers on Redis, and calls the real dispatcher at its
interval until the day is over and every run it queued has finished.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from statistics import quantiles

from django.conf import settings
from django.db import connection, connections
from psycopg import sql

from accounts.models import Firm, User
from xpmsync import schedule
from xpmsync.mirror import apply_records
from xpmsync.models import SyncRun, XpmConnection
from xpmsync.parse import parse_client_list
from xpmsync.sandbox.practice import practice_xml

BASE_DIR = Path(settings.BASE_DIR)
SMALL = 2000  # "practices under 2,000 clients", as the figures split them
LARGEST = 50_000


def practice_sizes(firms: int, total: int, seed: int) -> list[int]:
    """Sizes as practices come: most under 2,000 clients, a long tail to 50,000 (log-normal,
    median about 600), scaled to about ``total`` clients in all."""
    rng = random.Random(seed)  # noqa: S311 (a simulation)
    drawn = [rng.lognormvariate(math.log(600), 1.4) for _ in range(firms)]
    scale = total / sum(drawn)
    return [max(5, min(LARGEST, round(size * scale))) for size in drawn]


def use_database(name: str) -> None:
    """Point this process's default connection at the simulation's own database."""
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = name


def _quoted(name: str) -> str:
    """A database name as an SQL identifier (it comes from the command line)."""
    connection.ensure_connection()
    return sql.Identifier(name).as_string(connection.connection)


def create_database(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(name)}")
        cursor.execute(f"CREATE DATABASE {_quoted(name)}")


def drop_database(name: str, home: str) -> None:
    use_database(home)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


# What decides the rows a seed holds, besides the functions that make it.
SEEDED_BY = [
    "xpmsync/sandbox/practice.py", "xpmsync/fields.py", "xpmsync/parse.py", "xpmsync/values.py",
    "xpmsync/mirror.py", "xpmsync/bulk.py",
]  # fmt: skip


def seed_name(database: str, firms: int, clients: int, seed: int) -> str:
    """The name of the kept copy of a seeded fleet: what it holds, and a key of the schema, the
    code that made it and the token key, so a change to any of them seeds afresh."""
    from django.db.migrations.loader import MigrationLoader

    leaves = sorted(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
    key = hashlib.sha256(repr(leaves).encode())
    for maker in (practice_sizes, make_firms, import_practices):
        key.update(inspect.getsource(maker).encode())
    for source in SEEDED_BY:
        key.update((BASE_DIR / source).read_bytes())
    # The seeded tokens are encrypted with these: other keys could not read them.
    key.update(repr((settings.TOKEN_ENCRYPTION_KEYS, settings.SECRET_KEY)).encode())
    name = f"{database}_seed_{firms}_{clients}_{seed}_{key.hexdigest()[:8]}"
    if len(name.encode()) > 63:  # PostgreSQL would cut it short, and never find it again
        raise ValueError(f"The seed's name {name!r} is too long: give a shorter --database.")
    return name


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def copy_database(source: str, target: str) -> None:
    """``target`` as a file-level copy of ``source`` (PostgreSQL's template copy: seconds for
    what took many minutes to import); nobody may be connected to ``source`` meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(target)} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {_quoted(target)} TEMPLATE {_quoted(source)}")


def drop_other_seeds(database: str, keep: str) -> None:
    """Older kept seeds of this simulation's database (another schema or size): disk, not data."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
            [re.sub(r"([\\%_])", r"\\\1", database) + r"\_seed\_%", keep],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


def tenants() -> dict[str, int]:
    """Tenant id -> practice size, as the firms' connections hold them."""
    return dict(XpmConnection.objects.values_list("tenant_id", "practice_size"))


def make_firms(sizes: list[int], started: datetime) -> dict[str, int]:
    """The firms, their admins and connections; returns tenant id -> practice size."""
    firms = Firm.objects.bulk_create(
        [Firm(name=f"Fleet firm {n + 1:04d}", seat_limit=5) for n in range(len(sizes))]
    )
    admins = User.objects.bulk_create(
        [
            User(firm=firm, email=f"admin@fleet{firm.pk}.example.com", role=User.Role.ADMIN,
                 password="!")  # noqa: S106 (unusable: nobody signs in)
            for firm in firms
        ]
    )  # fmt: skip
    tenants, connections_ = {}, []
    for firm, admin, size in zip(firms, admins, sizes, strict=True):
        tenant = str(uuid.UUID(int=random.Random(firm.pk).getrandbits(128), version=4))  # noqa: S311
        xpm = XpmConnection(
            firm=firm, connected_by=admin, connected_at=started, status="active",
            tenant_id=tenant, tenant_name=f"Practice {firm.pk}", practice_size=size,
            xero_connection_id=f"c-{tenant}",
        )  # fmt: skip
        xpm.set_tokens({"access_token": "fleet", "refresh_token": "fleet", "expires_in": 60})
        connections_.append(xpm)
        tenants[tenant] = size
    XpmConnection.objects.bulk_create(connections_)
    return tenants


def import_practices(firm_ids: list[int]) -> None:
    """Each firm's practice as yesterday's full sync left it (without the simulated pace)."""
    for xpm in XpmConnection.objects.filter(firm_id__in=firm_ids).select_related("firm"):
        body = io.BytesIO(b"".join(practice_xml(xpm.practice_size, 2026)))
        apply_records(
            xpm.firm, parse_client_list(body), connection_id=xpm.pk, check_safety=False,
            timeline=False,
        )  # fmt: skip


def record_yesterday(started: datetime) -> None:
    """Yesterday's full sync of each firm, at the firm's slot of yesterday, so that today's
    fall evenly over the compressed day."""
    day = schedule.seconds(schedule.DAY)
    runs = []
    for firm_id in Firm.objects.values_list("pk", flat=True):
        at = schedule.next_slot(firm_id, day, started - timedelta(seconds=day))
        runs.append(
            SyncRun(
                firm_id=firm_id, trigger=SyncRun.Trigger.SCHEDULED,
                status=SyncRun.Status.SUCCEEDED, queued_at=at, due_at=at, started_at=at,
                finished_at=at, attempts=1,
            )
        )  # fmt: skip
    SyncRun.objects.bulk_create(runs)


def fork_each(parts: list[list[int]], work) -> None:
    """Run ``work(part)`` in a child process per part (fork), and wait for them all."""
    connections.close_all()
    children = []
    for part in parts:
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            code = 0
            try:
                work(part)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                connections.close_all()
                os._exit(code)
        children.append(pid)
    failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} setup processes failed")


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(  # noqa: S603 (our own commands)
        command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen, timeout: float = 60) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def worker_command(name: str, queues: str, pool: str, concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "gapportal", "worker", "-Q", queues, "-n",
        f"{name}@fleet", "--pool", pool, "--concurrency", str(concurrency), "--loglevel",
        "WARNING", "--without-gossip", "--without-mingle", "-O", "fair",
    ]  # fmt: skip


def peak_rss_mb(process: subprocess.Popen) -> float:
    """The largest peak resident memory (VmHWM) among a worker's processes, in MB."""
    peak = 0
    for pid in [process.pid, *_children(process.pid)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return round(peak / 1024, 1)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def postgres_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def active_runs() -> int:
    return SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).count()


def percentile(values: list[float], share: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(quantiles(values, n=100, method="inclusive")[share - 1], 2)


def figures(since: datetime, elapsed: float, until: datetime | None = None) -> dict:
    """What the runs queued from ``since`` (to ``until``) did, from their rows."""
    queued = SyncRun.objects.filter(queued_at__gte=since)
    if until is not None:
        queued = queued.filter(queued_at__lt=until)
    runs = list(
        queued.select_related("firm__xpm_connection").only(
            "status", "kind", "due_at", "finished_at", "counts", "firm__xpm_connection"
        )
    )
    done = [r for r in runs if r.finished_at and r.due_at]
    small = [r for r in done if r.firm.xpm_connection.practice_size < SMALL]
    large = [r for r in done if r.firm.xpm_connection.practice_size >= SMALL]

    def waits(selected):
        values = [max(0.0, (r.finished_at - r.due_at).total_seconds()) for r in selected]
        return {"runs": len(values), "p50_s": percentile(values, 50),
                "p95_s": percentile(values, 95)}  # fmt: skip

    applied = sum(
        sum(int(r.counts.get(k, 0)) for k in ("clients_created", "clients_updated",
                                             "clients_unchanged", "clients_archived"))
        for r in runs if r.status == SyncRun.Status.SUCCEEDED
    )  # fmt: skip
    succeeded = {r.firm_id for r in runs if r.status == SyncRun.Status.SUCCEEDED}
    return {
        "runs": len(runs),
        "runs_by_kind": {k: sum(1 for r in runs if r.kind == k) for k in ("full", "quick")},
        "runs_failed": sum(1 for r in runs if r.status == SyncRun.Status.FAILED),
        "runs_held": sum(1 for r in runs if r.status == SyncRun.Status.HELD),
        "runs_unfinished": sum(1 for r in runs if r.status in SyncRun.ACTIVE_STATUSES),
        "firms_synced": len(succeeded),
        "firms_failed": len({r.firm_id for r in runs if r.status == SyncRun.Status.FAILED}),
        "due_to_done_small": waits(small),
        "due_to_done_large": waits(large),
        "clients_applied": applied,
        "clients_applied_per_second": round(applied / elapsed, 1) if elapsed else None,
        "peak_runs_at_once": peak_at_once([(r.started_at, r.finished_at) for r in done]),
    }


def peak_at_once(spans: list[tuple[datetime | None, datetime | None]]) -> int:
    """The most spans (a run's last start to its finish) open at one moment."""
    edges = sorted(
        [edge for start, end in spans if start and end for edge in ((start, 1), (end, -1))],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same moment
    )
    peak = open_ = 0
    for _, step in edges:
        open_ += step
        peak = max(peak, open_)
    return peak


def queue_burst() -> int:
    """A quick sync for every firm at once, as if every admin pressed Sync Now together: how
    fast the fleet drains it is its throughput, which a day it keeps up with cannot show."""
    from xpmsync.tasks import SyncAlreadyRunning, request_sync

    admins = User.objects.filter(role=User.Role.ADMIN).select_related("firm")
    queued = 0
    for admin in admins:
        try:
            request_sync(admin.firm, trigger=SyncRun.Trigger.MANUAL, user=admin,
                         kind=SyncRun.Kind.QUICK)  # fmt: skip
        except SyncAlreadyRunning:
            continue
        queued += 1
    return queued


def drained_at(since: datetime) -> float | None:
    """Seconds from ``since`` to the last finish of a run queued since then."""
    from django.db.models import Max

    last = SyncRun.objects.filter(queued_at__gte=since).aggregate(last=Max("finished_at"))["last"]
    return round((last - since).total_seconds(), 1) if last else None


def fetch_stats(port: int) -> dict:
    import requests

    return requests.get(f"http://127.0.0.1:{port}/_stats", timeout=30).json()


def wait_ready(process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The simulated Xero stopped: see {log}")
        if b"ready" in log.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError("The simulated Xero did not start in time")
