"""A simulated Xero for the fleet simulation: many XPM practices, Xero's limits and Xero's pace.

Run as ``python -m devtools.fleet_xpm --tenants tenants.json --port N``. It serves what the
portal calls (the token refresh, ``/connections`` and XPM's ``client.api/list``) for every tenant
in the file, each practice drawn by the sandbox's generator (a practice of n clients is the first
n of one long generated list, so memory stays at the largest practice). It enforces Xero's
documented limits, per tenant 5 concurrent calls, 60 a minute and 5,000 a day, and 10,000 a
minute for the app, each as a sliding window (stricter than any fixed one), answering 429 with
``Retry-After`` and ``X-Rate-Limit-Problem`` like Xero, and sends the ``X-*Limit-Remaining``
headers on every answer. It answers at Xero's pace: ``--base`` seconds plus ``--per-client``
seconds for each client in the answer (half before the first byte, half while streaming).

Each hour of the compressed day (``--hour-seconds``) every practice edits a few of its clients
(one in 500, at least one), which a quick sync's ``modifiedsince`` then lists. ``GET /_stats``
reports the calls it saw: the peak per tenant and app-wide in any 60 seconds, and the 429s.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LIST_PATH = "/api/practicemanager/3.1/client.api/list"
HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<Response api-method="List"><Status>OK</Status>'
EDITS_PER_HOUR = 1 / 500
_EMAIL = re.compile(r"<Email>[^<]*</Email>|<Email />")


class Limits:
    """Xero's limits as sliding windows, and every call's time for the figures."""

    def __init__(self, minute: int, day: int, app_minute: int, concurrent: int) -> None:
        self.minute, self.day, self.app_minute = minute, day, app_minute
        self.concurrent = concurrent
        self.lock = threading.Lock()
        self.tenant_calls: dict[str, deque[float]] = defaultdict(deque)
        self.tenant_day: dict[str, deque[float]] = defaultdict(deque)
        self.app_calls: deque[float] = deque()
        self.in_flight: dict[str, int] = defaultdict(int)
        self.log: list[tuple[float, str]] = []  # every accepted call
        self.refused = 0

    def admit(self, tenant: str) -> tuple[str, int] | None:
        """Count the call, or say which limit it breaks and how long to wait."""
        now = time.monotonic()
        with self.lock:
            minute, day = self.tenant_calls[tenant], self.tenant_day[tenant]
            for calls, span in ((minute, 60), (day, 86400), (self.app_calls, 60)):
                while calls and calls[0] <= now - span:
                    calls.popleft()
            checks: list[tuple[str, deque[float] | None, int, int]] = [
                ("concurrent", None, self.concurrent, 1),
                ("day", day, self.day, 86400),
                ("minute", minute, self.minute, 60),
                ("appminute", self.app_calls, self.app_minute, 60),
            ]
            for problem, window, limit, span in checks:
                used = self.in_flight[tenant] if window is None else len(window)
                if used >= limit:
                    self.refused += 1
                    wait = 1 if window is None else window[-limit] + span - now
                    return problem, max(1, int(wait) + 1)
            for calls in (minute, day, self.app_calls):
                calls.append(now)
            self.in_flight[tenant] += 1
            self.log.append((now, tenant))
        return None

    def done(self, tenant: str) -> None:
        with self.lock:
            self.in_flight[tenant] -= 1

    def remaining(self, tenant: str) -> dict[str, str]:
        with self.lock:
            return {
                "X-MinLimit-Remaining": str(max(0, self.minute - len(self.tenant_calls[tenant]))),
                "X-DayLimit-Remaining": str(max(0, self.day - len(self.tenant_day[tenant]))),
                "X-AppMinLimit-Remaining": str(max(0, self.app_minute - len(self.app_calls))),
            }

    def stats(self) -> dict:
        with self.lock:
            log = list(self.log)
        times = [t for t, _ in log]
        by_tenant: dict[str, list[float]] = defaultdict(list)
        for t, tenant in log:
            by_tenant[tenant].append(t)
        return {
            "calls": len(log),
            "refused_429": self.refused,
            "peak_app_calls_per_minute": _peak(times),
            "peak_tenant_calls_per_minute": max(map(_peak, by_tenant.values()), default=0),
            "limits": {"tenant_minute": self.minute, "tenant_day": self.day,
                       "app_minute": self.app_minute, "tenant_concurrent": self.concurrent},
        }  # fmt: skip


def _peak(times: list[float]) -> int:
    """The most calls in any 60 seconds."""
    times = sorted(times)
    return max((bisect.bisect_right(times, t + 60) - i for i, t in enumerate(times)), default=0)


class Practices:
    """Every tenant's practice: a prefix of one generated list, with the hours' edits."""

    def __init__(self, sizes: dict[str, int], hour_seconds: float, started: float) -> None:
        from xpmsync.sandbox.practice import client_xml, clients

        self.sizes = sizes
        self.hour_seconds = hour_seconds
        self.started = started
        largest = max(sizes.values(), default=0)
        self.xml = [client_xml(c) for c in clients(largest, seed=2026)]

    def _edits(self, tenant: str, until: float) -> dict[int, tuple[str, float]]:
        """The clients edited by ``until`` (unix time): number -> (their email, when)."""
        size = self.sizes[tenant]
        per_hour = max(1, int(size * EDITS_PER_HOUR))
        edits: dict[int, tuple[str, float]] = {}
        hours = int((until - self.started) // self.hour_seconds)
        salt = int(tenant.replace("-", "")[:8], 16)
        for hour in range(1, hours + 1):
            at = self.started + hour * self.hour_seconds
            for j in range(per_hour):
                n = (salt + hour * 7919 + j * 104729) % size
                edits[n] = (f"client{n + 1}.h{hour}@example.com", at)
        return edits

    def answer(self, tenant: str, modified_since: float | None) -> tuple[list[bytes], int]:
        """The list's chunks and how many clients it holds."""
        edits = self._edits(tenant, time.time())
        numbers: list[int] | range
        if modified_since is None:
            numbers = range(self.sizes[tenant])
        else:
            numbers = sorted(n for n, (_, at) in edits.items() if at >= modified_since)
        chunks, batch = [HEAD, b"<Clients>"], []
        for n in numbers:
            xml = self.xml[n]
            if n in edits:
                xml = _EMAIL.sub(f"<Email>{edits[n][0]}</Email>", xml, count=1)
            batch.append(xml)
            if len(batch) == 500:
                chunks.append("".join(batch).encode())
                batch = []
        chunks += ["".join(batch).encode(), b"</Clients></Response>"]
        return chunks, len(numbers)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FleetXero

    def log_message(self, format, *args) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if urlsplit(self.path).path != "/identity/connect/token":
            return self._send(404, b"Not found", "text/plain")
        token = {
            "access_token": secrets.token_urlsafe(24),
            "refresh_token": secrets.token_urlsafe(24),
            "expires_in": 1800,
            "token_type": "Bearer",
            "scope": "offline_access practicemanager.client.read",
        }
        self._send(200, json.dumps(token).encode(), "application/json")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_stats":
            stats = json.dumps(self.server.limits.stats()).encode()
            return self._send(200, stats, "application/json")
        if url.path == "/api/connections":
            listed = [
                {"id": f"c-{t}", "tenantId": t, "tenantType": "PRACTICEMANAGER",
                 "tenantName": f"Practice {t[:8]}"}
                for t in self.server.practices.sizes
            ]  # fmt: skip
            return self._send(200, json.dumps(listed).encode(), "application/json")
        if url.path != LIST_PATH:
            return self._send(404, b"Not found", "text/plain")
        tenant = self.headers.get("Xero-tenant-id", "")
        if tenant not in self.server.practices.sizes:
            return self._send(403, b"Forbidden", "text/plain")
        refused = self.server.limits.admit(tenant)
        if refused is not None:
            problem, wait = refused
            headers = {"Retry-After": str(wait), "X-Rate-Limit-Problem": problem}
            return self._send(429, b"Rate limit exceeded", "text/plain", headers)
        try:
            self._list(tenant, parse_qs(url.query))
        finally:
            self.server.limits.done(tenant)

    def _list(self, tenant: str, query: dict) -> None:
        since = query.get("modifiedsince", [""])[0]
        since_at = datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp() if since else None
        chunks, count = self.server.practices.answer(tenant, since_at)
        pace = self.server.base + self.server.per_client * count
        time.sleep(pace / 2)
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(sum(map(len, chunks))))
        for name, value in self.server.limits.remaining(tenant).items():
            self.send_header(name, value)
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)
            time.sleep(pace / 2 / len(chunks))

    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class FleetXero(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, practices: Practices, limits: Limits, base: float,
                 per_client: float) -> None:  # fmt: skip
        super().__init__(("127.0.0.1", port), Handler)
        self.practices, self.limits = practices, limits
        self.base, self.per_client = base, per_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", required=True, help="JSON: tenant id -> practice size")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hour-seconds", type=float, default=3600)
    parser.add_argument("--started", type=float, default=None, help="unix time the day began")
    parser.add_argument("--base", type=float, default=0.1)
    parser.add_argument("--per-client", type=float, default=0.0012)
    parser.add_argument("--minute-limit", type=int, default=60)
    parser.add_argument("--day-limit", type=int, default=5000)
    parser.add_argument("--app-minute-limit", type=int, default=10000)
    parser.add_argument("--concurrent-limit", type=int, default=5)
    args = parser.parse_args()
    with open(args.tenants) as file:
        sizes = {tenant: int(size) for tenant, size in json.load(file).items()}
    practices = Practices(sizes, args.hour_seconds, args.started or time.time())
    limits = Limits(args.minute_limit, args.day_limit, args.app_minute_limit,
                    args.concurrent_limit)  # fmt: skip
    server = FleetXero(args.port, practices, limits, args.base, args.per_client)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
