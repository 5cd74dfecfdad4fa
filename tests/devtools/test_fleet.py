"""A small run of the fleet simulation: real Celery workers on Redis, PostgreSQL, the real
dispatcher, and a simulated Xero holding the app to a lowered limit that the budget must keep."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.concurrency import free_port

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="needs PostgreSQL and Redis; CI sets DATABASE_URL and REDIS_URL",
)
APP_LIMIT = 40  # calls a minute for the whole app: the twelve firms' hourly syncs want more


def _redis_db_of_its_own() -> str:
    """A Redis database beside the suite's (REDIS_URL's), so two suites run at once on one
    machine with different REDIS_URLs never share (or flush) one fleet's broker."""
    suite_db = int(urlsplit(os.environ["REDIS_URL"]).path.strip("/") or 0)
    return str(8 + suite_db % 8)


def test_a_small_fleet_syncs_every_firm_within_the_limits_without_a_429(tmp_path):
    output = tmp_path / "fleet.json"
    command = [
        sys.executable, "manage.py", "simulate_fleet", "--firms", "12", "--clients", "3000",
        "--compression", "720", "--workers", "2", "--app-minute-limit", str(APP_LIMIT),
        "--large", "400", "--port", str(free_port()), "--redis-db", _redis_db_of_its_own(),
        "--database", f"fleet_test_{os.getpid()}", "--drain-timeout", "300",
        "--no-seed-cache", "--output", str(output),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=Path(settings.BASE_DIR), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert figures["firms_synced"] == 12 and figures["firms_failed"] == 0
    assert figures["runs_failed"] == 0 and figures["runs_unfinished"] == 0
    # Each firm's full sync comes at its slot of the day; one whose slot falls in the day's last
    # minute while its quick sync waits for the app's budget misses the day.
    # With the app's budget this tight, deferrals of up to a minute make how many is timing's
    # business: at least half here; tests/xpmsync/test_dispatch.py checks the slots themselves.
    assert 6 <= figures["runs_by_kind"]["full"] <= 12 and figures["runs_by_kind"]["quick"] > 12
    xero = figures["xero"]
    assert xero["refused_429"] == 0  # the budget deferred instead
    assert xero["peak_app_calls_per_minute"] <= APP_LIMIT
    assert xero["peak_app_calls_per_minute"] >= APP_LIMIT * 0.75  # and the limit did bind
    assert xero["peak_tenant_calls_per_minute"] <= 60
    # Two worker processes, each running syncs in threads: more than two at once.
    assert figures["pool"] == "threads" and figures["threads_per_worker"] == 8
    assert figures["peak_runs_at_once"] > 2
    # After the day, every admin's Sync Now at once: drained, none failed, within the limits.
    burst = figures["burst"]
    assert burst["runs_queued"] == 12 and burst["runs_failed"] == 0
    assert burst["runs_unfinished"] == 0 and burst["drained_s"] > 0
    assert burst["due_to_done_small"]["runs"] == 12
    assert set(figures["peak_rss_mb_per_worker"]) == {"small-1", "large-2", "default"}
    assert all(0 < mb < 300 for mb in figures["peak_rss_mb_per_worker"].values())
    assert figures["peak_postgres_connections"] >= 2
    assert figures["due_to_done_small"]["runs"] > 12  # every practice here is under 2,000
    # Each full sync applies its practice again (the quick syncs add their few clients).
    assert figures["clients_applied"] >= 3000 * figures["runs_by_kind"]["full"] / 12 * 0.5
    assert figures["clients_applied_per_second"] > 0


@pytest.mark.django_db(transaction=True)
def test_a_kept_seed_is_copied_and_older_ones_are_dropped():
    from django.db import connection

    from devtools import fleet

    database = f"fleet_seeds_{os.getpid()}"
    seed = fleet.seed_name(database, 12, 3000, 2026)
    assert seed.startswith(f"{database}_seed_12_3000_2026_")
    assert fleet.seed_name(database, 13, 3000, 2026) != seed  # another size, another seed
    with pytest.raises(ValueError, match="too long"):
        fleet.seed_name("x" * 40, 12, 3000, 2026)
    older = f"{database}_seed_12_3000_2026_00000000"
    lookalike = f"{database}x_seed_12_3000_2026_00000000"  # another simulation's: kept
    try:
        fleet.create_database(database)
        fleet.copy_database(database, older)
        fleet.copy_database(database, lookalike)
        fleet.copy_database(database, seed)
        assert fleet.database_exists(seed)
        fleet.drop_other_seeds(database, keep=seed)
        assert fleet.database_exists(seed) and fleet.database_exists(lookalike)
        assert not fleet.database_exists(older)
    finally:
        with connection.cursor() as cursor:
            for name in (database, older, lookalike, seed):
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
