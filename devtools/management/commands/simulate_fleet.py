"""Run a fleet of firms through a compressed day of syncs on real Celery workers (``make fleet``).

The firms' practices are synced as of "yesterday"; then the real dispatcher runs at its
(compressed) interval for one compressed day, queuing every firm's daily full sync and its hourly
quick syncs on Redis, and the workers run them against a simulated Xero that keeps Xero's limits
and pace (``devtools.fleet_xpm``). When the day is over and every queued run has finished, every
firm's admin presses Sync Now (quick) at once: how long the fleet takes to drain that burst is its
throughput, which a day it keeps up with cannot show. Then it prints the figures as JSON.

It works in a database and a Redis database of its own, dropped and flushed after (``--keep``
keeps the database). The seeded firms are kept as a PostgreSQL template (``<database>_seed_…``,
named for their number, size, seed and schema), so the next run with the same firms copies them
in seconds instead of importing them again; ``--no-seed-cache`` neither keeps nor uses one.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from argparse import BooleanOptionalAction
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from devtools import fleet
from gapportal.celery import app
from xpmsync import schedule, tasks


class Command(BaseCommand):
    help = "Simulate N firms' syncs over a compressed day on real workers; print the figures."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--firms", type=int, default=1000)
        parser.add_argument("--clients", type=int, default=1_500_000, help="in all, roughly")
        parser.add_argument("--workers", type=int, default=2, help="sync worker processes")
        parser.add_argument("--pool", choices=["threads", "prefork"], default="threads")
        parser.add_argument("--threads", type=int, default=8, help="syncs at once per worker")
        parser.add_argument("--compression", type=int, default=36, help="a day in 86400/N s")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--database", default="", help="its own (default: <name>_fleet)")
        parser.add_argument("--redis-db", type=int, default=3)
        parser.add_argument("--base", type=float, default=1.0, help="Xero's answer: base s")
        parser.add_argument("--per-client", type=float, default=0.0012, help="and s a client")
        parser.add_argument("--app-minute-limit", type=int, default=10000)
        parser.add_argument("--minute-limit", type=int, default=60)
        parser.add_argument("--large", type=int, default=5000, help="a large practice's size")
        parser.add_argument("--drain-timeout", type=float, default=3600)
        parser.add_argument("--output", default="")
        parser.add_argument("--keep", action="store_true", help="keep the simulation's database")
        parser.add_argument(
            "--seed-cache",
            action=BooleanOptionalAction,
            default=True,
            help="keep the seeded firms as a template, and use a kept one",
        )
        parser.add_argument(
            "--burst",
            action=BooleanOptionalAction,
            default=True,
            help="after the day, every firm's Sync Now at once",
        )

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError("simulate_fleet runs on PostgreSQL and Redis: set DATABASE_URL "
                               "and REDIS_URL.")  # fmt: skip
        home = settings.DATABASES["default"]["NAME"]
        database = options["database"] or f"{home}_fleet"
        redis_url = _with_db(settings.REDIS_URL, options["redis_db"])
        compression = options["compression"]
        settings.XPM_SCHEDULE_COMPRESSION = compression
        settings.XPM_LARGE_PRACTICE_CLIENTS = options["large"]
        settings.REDIS_URL = redis_url
        app.conf.broker_url = redis_url
        app.conf.task_always_eager = False
        redis.Redis.from_url(redis_url).flushdb()
        workdir = Path(tempfile.mkdtemp(prefix="fleet-"))
        processes: list = []
        # Stopped from outside, it still stops its workers and drops its database.
        signal.signal(signal.SIGTERM, _stop_asked)
        try:
            result = self._simulate(options, database, redis_url, workdir, processes)
        finally:
            for process in processes:
                fleet.stop(process)
            if not options["keep"]:
                fleet.drop_database(database, home)
        text = json.dumps(result, indent=2)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n")
        self.stdout.write(text)

    def _seed(self, options, database: str) -> bool:
        """Make ``database`` hold the firms synced as of yesterday: a copy of the kept seed if
        there is one, else imported (and kept, with the seed cache). True if it was copied."""
        seed = fleet.seed_name(database, options["firms"], options["clients"], options["seed"])
        cached = options["seed_cache"]
        if cached and fleet.database_exists(seed):
            fleet.copy_database(seed, database)
            fleet.use_database(database)
            return True
        fleet.create_database(database)
        fleet.use_database(database)
        call_command("migrate", verbosity=0)
        sizes = fleet.practice_sizes(options["firms"], options["clients"], options["seed"])
        fleet.make_firms(sizes, timezone.now())
        firm_ids = sorted(fleet.Firm.objects.values_list("pk", flat=True))
        fleet.fork_each([firm_ids[i::2] for i in range(2)], fleet.import_practices)
        if cached:
            home = settings.DATABASES["default"]["NAME"]
            fleet.use_database(home)
            fleet.drop_other_seeds(database, keep=seed)
            fleet.copy_database(database, seed)
            fleet.use_database(database)
        return False

    def _simulate(self, options, database, redis_url, workdir: Path, processes) -> dict:
        compression = options["compression"]
        prepared = time.monotonic()
        copied = self._seed(options, database)
        tenants = fleet.tenants()
        started = timezone.now()
        fleet.record_yesterday(started)
        setup_seconds = time.monotonic() - prepared

        (workdir / "tenants.json").write_text(json.dumps(tenants))
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(database),
            "REDIS_URL": redis_url,
            "XERO_SANDBOX_URL": f"http://127.0.0.1:{options['port']}",
            "XPM_SCHEDULE_COMPRESSION": str(compression),
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
            "XERO_MINUTE_LIMIT": str(options["minute_limit"]),
            "XERO_APP_MINUTE_LIMIT": str(options["app_minute_limit"]),
            "XPM_LARGE_PRACTICE_CLIENTS": str(options["large"]),
            "PYTHONPATH": str(fleet.BASE_DIR),
        }
        xero_log = workdir / "xero.log"
        xero = fleet.start(
            [sys.executable, "-m", "devtools.fleet_xpm", "--tenants",
             str(workdir / "tenants.json"), "--port", str(options["port"]),
             "--hour-seconds", str(3600 / compression), "--started", str(started.timestamp()),
             "--base", str(options["base"]), "--per-client", str(options["per_client"]),
             "--minute-limit", str(options["minute_limit"]),
             "--app-minute-limit", str(options["app_minute_limit"])],
            env, xero_log,
        )  # fmt: skip
        processes.append(xero)
        fleet.wait_ready(xero, xero_log)
        workers = self._start_workers(options, env, workdir)
        processes.extend(workers.values())

        day = schedule.seconds(schedule.DAY)
        every = schedule.seconds(schedule.DISPATCH_EVERY)
        began = time.monotonic()
        dispatches, peak_connections = [], 0
        next_dispatch = began
        while time.monotonic() - began < day:
            if time.monotonic() >= next_dispatch:
                tick = time.monotonic()
                tasks.dispatch_due_syncs()
                dispatches.append(time.monotonic() - tick)
                next_dispatch += every
            peak_connections = max(peak_connections, fleet.postgres_connections())
            time.sleep(min(1.0, max(0.05, next_dispatch - time.monotonic())))
        peak_connections = max(peak_connections, self._drain(options))
        elapsed = time.monotonic() - began
        burst = self._burst(options) if options["burst"] else None
        rss = {name: fleet.peak_rss_mb(process) for name, process in workers.items()}
        return {
            "firms": options["firms"],
            "practice_clients": sum(tenants.values()),
            "practices_under_2000": sum(1 for size in tenants.values() if size < fleet.SMALL),
            "largest_practice": max(tenants.values()),
            "sync_workers": options["workers"],
            "pool": options["pool"],
            "threads_per_worker": options["threads"] if options["pool"] == "threads" else 1,
            "xero_pace": {"base_s": options["base"], "per_client_s": options["per_client"]},
            "compressed_day_s": round(day, 1),
            "setup_s": round(setup_seconds, 1),
            "seed_copied": copied,
            "total_s": round(elapsed, 1),
            "over_the_day_s": round(elapsed - day, 1),
            **fleet.figures(started, elapsed, until=burst["queued_at"] if burst else None),
            "burst": burst and {k: v for k, v in burst.items() if k != "queued_at"},
            "xero": fleet.fetch_stats(options["port"]),
            "dispatcher": {
                "runs": len(dispatches),
                "p50_s": fleet.percentile(dispatches, 50),
                "max_s": round(max(dispatches), 3) if dispatches else None,
            },
            "peak_rss_mb_per_worker": rss,
            "peak_postgres_connections": peak_connections,
        }

    def _drain(self, options) -> int:
        """Wait until no run is queued or running (or the drain timeout); the peak connections."""
        peak = 0
        drain_until = time.monotonic() + options["drain_timeout"]
        while fleet.active_runs() and time.monotonic() < drain_until:
            peak = max(peak, fleet.postgres_connections())
            time.sleep(0.5)
        return peak

    def _burst(self, options) -> dict:
        """Every firm's Sync Now (quick) at once, and how long the fleet takes to drain it."""
        queued_at = timezone.now()
        queued = fleet.queue_burst()
        peak_connections = self._drain(options)
        elapsed = (timezone.now() - queued_at).total_seconds()
        done = fleet.figures(queued_at, elapsed)
        return {
            "queued_at": queued_at,
            "runs_queued": queued,
            "drained_s": fleet.drained_at(queued_at),
            "runs_failed": done["runs_failed"],
            "runs_unfinished": done["runs_unfinished"],
            "due_to_done_small": done["due_to_done_small"],
            "due_to_done_large": done["due_to_done_large"],
            "runs_per_second": round(queued / elapsed, 1) if elapsed else None,
            "peak_postgres_connections": peak_connections,
        }

    def _start_workers(self, options, env, workdir: Path) -> dict:
        """Half the sync workers (at least one) take the "sync" queue alone; the rest take
        "sync_large" first and "sync" when it is empty; one more takes the light "default"."""
        count = options["workers"]
        large = count // 2
        lanes = [("small", "sync")] * (count - large) + [("large", "sync_large,sync")] * large
        pool = options["pool"]
        concurrency = options["threads"] if pool == "threads" else 1
        workers = {}
        # As docker-compose.yml runs them: few malloc arenas for a process of threads.
        sync_env = {**env, "MALLOC_ARENA_MAX": "2"}
        for n, (lane, queues) in enumerate(lanes, start=1):
            name = f"{lane}-{n}"
            command = fleet.worker_command(name, queues, pool, concurrency)
            workers[name] = fleet.start(command, sync_env, workdir / f"{name}.log")
        workers["default"] = fleet.start(
            fleet.worker_command("default", "default", "prefork", 1), env, workdir / "default.log"
        )
        time.sleep(3)  # let them connect before the first dispatch
        return workers


def _stop_asked(signum, frame) -> None:
    raise SystemExit(f"simulate_fleet was stopped (signal {signum})")


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
