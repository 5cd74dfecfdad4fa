"""A bounded load run: gunicorn (2 workers) in production mode, wrk on loopback, a sync alongside.

Seeds a firm with N synced clients (through the real sync, as bench_pages does) and a signed-in,
MFA-verified session, starts gunicorn with DEBUG off, and points wrk at the Clients list, client
profiles and their Contacts tabs with that session. While wrk runs, XPM syncs of the same firm
run back to back (alternating a 1%-changed list and yesterday's), so pages are read while the
sync writes. Prints one JSON object: throughput, latency percentiles, errors, non-200 answers
and the syncs; fails if any request errored or any sync did not succeed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from accounts.models import Firm
from clients.models import Client
from devtools.benchmarking import (
    fresh_firm,
    remove_firm,
    serve_practice,
    timed_sync,
    vacuum,
    verified_client,
    write_results,
)

WRK_SCRIPT = """
local paths = {%(paths)s}
local threads = {}
local counter = 0
wrk.headers["Cookie"] = "%(cookie)s"
-- As the TLS-terminating proxy in front of gunicorn would say.
wrk.headers["X-Forwarded-Proto"] = "https"

function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0 end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%.1f, "requests_per_second": %%.1f, ' ..
    '"p50_ms": %%.1f, "p95_ms": %%.1f, "p99_ms": %%.1f, "max_ms": %%.1f, "non_200": %%d, ' ..
    '"socket_errors": %%d, "timeouts": %%d}\\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, bad, e.connect + e.read + e.write, e.timeout))
end
"""


class Command(BaseCommand):
    help = "Load-test the Clients pages under gunicorn with wrk while syncs run; print JSON."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=10_000)
        parser.add_argument("--connections", type=int, default=50)
        parser.add_argument("--duration", type=int, default=60, help="Seconds of load.")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--output", help="Also append the result to this JSON-lines file.")

    def handle(self, *args, clients, connections, duration, port, output, **options):
        if not shutil.which("wrk"):
            raise CommandError("wrk is not installed (Debian: apt-get install wrk).")
        if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
            raise CommandError("The load run measures PostgreSQL: set DATABASE_URL.")
        firm = fresh_firm()
        try:
            with serve_practice(clients) as handler:
                timed_sync(firm)  # the first sync seeds the firm
                vacuum()  # settled, as autovacuum leaves it within a minute or so
                with override_settings(ALLOWED_HOSTS=["testserver"]):
                    session = verified_client(firm).cookies[settings.SESSION_COOKIE_NAME]
                with tempfile.TemporaryDirectory() as folder:
                    script = Path(folder) / "load.lua"
                    # gunicorn runs with DEBUG off, where the cookie has its __Host- name.
                    cookie = f"__Host-{session.key}={session.value}"
                    script.write_text(self._script(firm, cookie))
                    with self._gunicorn(port):
                        result = self._load_with_syncs(
                            firm, handler, script, connections, duration, port
                        )
        finally:
            remove_firm(firm)
        result.update(
            {"benchmark": "load", "clients": clients, "connections": connections, "workers": 2}
        )
        write_results(self.stdout, [result], output)
        if result["non_200"] or result["socket_errors"] or result["timeouts"]:
            raise CommandError("Some requests failed under load; see the figures above.")
        if result["syncs_failed"]:
            raise CommandError("A sync failed while the pages were under load.")

    def _script(self, firm: Firm, cookie: str) -> str:
        sample = list(
            Client.objects.for_firm(firm)
            .filter(links__isnull=False, is_archived=False)
            .order_by("?")
            .values_list("pk", flat=True)
            .distinct()[:50]
        )
        paths = ["/clients/"]
        for pk in sample:
            paths += [f"/clients/{pk}/", f"/clients/{pk}/contacts/", "/clients/"]
        return WRK_SCRIPT % {"paths": ", ".join(f'"{p}"' for p in paths), "cookie": cookie}

    def _gunicorn(self, port: int):
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": settings.SECRET_KEY,  # the seeded session is signed with it
            "TOKEN_ENCRYPTION_KEY": ",".join(settings.TOKEN_ENCRYPTION_KEYS)
            or Fernet.generate_key().decode(),
            "XERO_CLIENT_ID": "load-test",
            "XERO_CLIENT_SECRET": "load-test",
            "ALLOWED_HOSTS": "127.0.0.1",
            # wrk plays the TLS-terminating proxy, which says X-Forwarded-Proto: https.
            "TRUSTED_PROXY_COUNT": "1",
        }
        command = [
            sys.executable, "-m", "gunicorn", "gapportal.wsgi", "--workers", "2",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ]  # fmt: skip
        return _Server(command, env, f"http://127.0.0.1:{port}/accounts/login/")

    def _load_with_syncs(self, firm, handler, script, connections, duration, port) -> dict:
        # fmt: off
        command = [
            shutil.which("wrk"), "--threads", "2", "--connections", str(connections),
            "--duration", f"{duration}s", "--timeout", "10s", "--script", str(script),
            f"http://127.0.0.1:{port}",
        ]
        # fmt: on
        wrk = subprocess.Popen([str(part) for part in command], stdout=subprocess.PIPE, text=True)  # noqa: S603
        runs: list[dict] = []
        while wrk.poll() is None:
            handler.changed_every = 100 if len(runs) % 2 == 0 else 0
            try:
                run, seconds, _queries = timed_sync(firm)
                runs.append({"seconds": round(seconds, 2), "status": run.status})
            except RuntimeError as error:
                runs.append({"error": str(error), "status": "failed"})
        stdout, _ = wrk.communicate()
        line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise CommandError(f"wrk printed no result:\n{stdout}")
        result = json.loads(line.removeprefix("RESULT "))
        result["syncs"] = len(runs)
        result["syncs_failed"] = sum(1 for r in runs if r["status"] != "succeeded")
        result["sync_seconds"] = [r.get("seconds") for r in runs]
        return result


class _Server:
    """gunicorn as a child process, started and waited for, stopped on the way out."""

    def __init__(self, command: list[str], env: dict, probe: str) -> None:
        self.command, self.env, self.probe = command, env, probe

    def __enter__(self):
        # Production serves static files from the collected manifest.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=self.env,
            check=True,
        )
        self.process = subprocess.Popen(self.command, env=self.env)  # noqa: S603
        for _ in range(100):
            try:
                probe = urllib.request.Request(  # noqa: S310 (our own loopback address)
                    self.probe, headers={"X-Forwarded-Proto": "https"}
                )
                urllib.request.urlopen(probe, timeout=1)  # noqa: S310
                return self
            except urllib.error.HTTPError as error:
                self.__exit__()
                raise CommandError(f"gunicorn answered {error.code}; see its log above.") from None
            except OSError:
                if self.process.poll() is not None:
                    raise CommandError("gunicorn did not start; see its output above.") from None
                time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 20 seconds.")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
