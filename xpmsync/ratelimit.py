"""Xero's rate limits, kept in Redis and shared by every worker on every machine.

Before each call to a tenant, ``Budget.spend`` runs one Lua script: it looks at the tenant's last
minute and last day, and the app's last minute, as sliding windows of call times, and either
records the call in all three or records nothing and says how long until one would fit. Redis runs
a script alone, so workers racing for the last call of a minute cannot both get it (a check
followed by a separate increment did race). A sliding window never lets more than the limit
through in any minute, however Xero cuts its own minutes.

After each answer, ``Budget.correct`` reads Xero's ``X-MinLimit-Remaining``,
``X-DayLimit-Remaining`` and ``X-AppMinLimit-Remaining``: when Xero has counted more calls than we
have (another copy of the portal on the same app, a call whose answer was lost), the difference is
added to our windows, so we slow down; it never takes calls away.

A spent budget raises ``BudgetSpent`` with the wait: the sync task then goes back to the queue for
that long instead of sleeping in a worker. Without Redis (the embedded default: one process, no
workers) nothing is tracked and Xero's own 429s are the only brake.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import redis
from django.conf import settings

MINUTE_MS = 60_000
DAY_MS = 86_400_000

# Time is Redis's own clock, the same for every worker whatever its machine's clock says.
_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS: the windows (sorted sets of call times). ARGV: the call's id, then for each key its
# limit, window (ms) and name. Returns {1} when the call was recorded, or {0, wait in ms, the
# name of the limit that binds}.
_SPEND = (
    _NOW
    + """
local wait, problem = 0, ''
for i = 1, #KEYS do
  local limit, window = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local leaving = redis.call('ZRANGE', KEYS[i], -limit, -limit, 'WITHSCORES')
    local until_free = tonumber(leaving[2]) + window - now
    if until_free > wait then wait, problem = until_free, ARGV[3 * i + 1] end
  end
end
if wait > 0 then return {0, math.ceil(wait), problem} end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3 * i]))
end
return {1}
"""
)

# KEYS: windows; ARGV: an id for this correction, then for each key the calls Xero says were used
# and the window (ms). Adds calls dated now until each window holds as many as Xero counted.
_CORRECT = (
    _NOW
    + """
for i = 1, #KEYS do
  local used, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local missing = used - redis.call('ZCARD', KEYS[i])
  for n = 1, missing do
    redis.call('ZADD', KEYS[i], now, 'xero:' .. ARGV[1] .. ':' .. n)
  end
  if missing > 0 then redis.call('PEXPIRE', KEYS[i], window) end
end
return 0
"""
)


class BudgetSpent(Exception):
    """No call fits in Xero's limits now; one will in ``wait`` seconds."""

    def __init__(self, wait: int, problem: str) -> None:
        super().__init__(f"Xero's {problem} limit is used up for now; trying again in {wait} s.")
        self.wait = wait
        self.problem = problem


@dataclass(frozen=True)
class Limit:
    name: str  # as Xero's X-Rate-Limit-Problem names it: minute, day, appminute
    key: str
    limit: int
    window_ms: int
    header: str


class Budget:
    """The calls one tenant may still make, and the app's, as every worker sees them."""

    def __init__(
        self,
        tenant_id: str,
        connection: redis.Redis | None = None,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self.redis = connection if connection is not None else _redis()
        limits = limits or settings.XERO_RATE_LIMITS
        self.limits = (
            Limit("minute", f"xero-budget:{tenant_id}:minute", limits["minute"], MINUTE_MS,
                  "X-MinLimit-Remaining"),
            Limit("day", f"xero-budget:{tenant_id}:day", limits["day"], DAY_MS,
                  "X-DayLimit-Remaining"),
            Limit("appminute", "xero-budget:app:minute", limits["app_minute"], MINUTE_MS,
                  "X-AppMinLimit-Remaining"),
        )  # fmt: skip

    def spend(self) -> None:
        """Record one call, or raise BudgetSpent (recording nothing) when it would not fit."""
        if self.redis is None:
            return
        args: list[str | int] = [uuid.uuid4().hex]
        for limit in self.limits:
            args += [limit.limit, limit.window_ms, limit.name]
        answer = self.redis.eval(_SPEND, len(self.limits), *(x.key for x in self.limits), *args)
        if int(answer[0]) != 1:
            problem = answer[2].decode() if isinstance(answer[2], bytes) else str(answer[2])
            raise BudgetSpent(max(1, math.ceil(int(answer[1]) / 1000)), problem)

    def correct(self, headers: Mapping[str, str]) -> None:
        """Believe Xero where it has counted more calls than we have."""
        if self.redis is None:
            return
        keys: list[str] = []
        args: list[str | int] = [uuid.uuid4().hex]
        for limit in self.limits:
            remaining = str(headers.get(limit.header, "")).strip()
            if remaining.isdigit():
                keys.append(limit.key)
                args += [max(0, limit.limit - int(remaining)), limit.window_ms]
        if keys:
            self.redis.eval(_CORRECT, len(keys), *keys, *args)

    def used(self) -> dict[str, int]:
        """The calls in each window now (for the fleet's figures and tests)."""
        if self.redis is None:
            return {}
        seconds, micros = self.redis.time()
        now = seconds * 1000 + micros // 1000
        pipe = self.redis.pipeline()
        for limit in self.limits:
            pipe.zcount(limit.key, now - limit.window_ms + 1, "+inf")
        return {limit.name: int(n) for limit, n in zip(self.limits, pipe.execute(), strict=True)}


_pool_lock = threading.Lock()
_pools: dict[str, redis.ConnectionPool] = {}


def _redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    if not url:
        return None
    with _pool_lock:
        if url not in _pools:
            # A Redis that stops answering fails the call instead of holding a worker's thread.
            _pools[url] = redis.ConnectionPool.from_url(
                url, socket_timeout=10, socket_connect_timeout=5
            )
    return redis.Redis(connection_pool=_pools[url])
