"""Throttling of password checks, per account and per client address.

Counters live in the cache (Redis in production) in fixed windows, so a lockout always ends by
itself: nobody is locked out permanently, and an office sharing one address gets a larger
allowance than a single account.

An attempt is counted *before* the password is checked, with the cache's atomic ``add`` and
``incr``, and refused unless its own count is within the limit. Counting after the slow Argon2
check let parallel requests all read a count under the limit and all be checked; counting first,
of N requests sent at once only the first ``limit`` reach the hash. A successful check gives the
attempt back: it clears the account's counter and takes one off the address's, so the counters
hold failures (and checks in flight), not logins.
"""

import contextlib
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

THROTTLED_MESSAGE = (
    "Too many failed attempts. Wait 15 minutes and try again, or reset your password."
)


class Throttled(Exception):
    """Too many failed attempts for the account or the address: refused without a check."""

    def __init__(self, attempt: "Attempt") -> None:
        super().__init__(THROTTLED_MESSAGE)
        self.attempt = attempt


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For as far as trusted proxies vouch."""
    proxies = settings.TRUSTED_PROXY_COUNT
    remote_addr = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote_addr
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    # Each trusted proxy appends the address it saw; anything further left is client-supplied.
    if len(forwarded) >= proxies:
        return forwarded[-proxies]
    return remote_addr


def _keys(account: str, ip: str) -> tuple[str, str]:
    digest = hashlib.sha256(account.strip().lower().encode()).hexdigest()
    return f"login-fail:account:{digest}", f"login-fail:ip:{ip}"


def _count(key: str) -> int:
    window = settings.LOGIN_THROTTLE_WINDOW
    for _ in range(3):
        # add() starts the window only if no counter exists; incr() is atomic and keeps the
        # expiry, so refused attempts never extend a lockout.
        cache.add(key, 0, timeout=window)
        try:
            return cache.incr(key)
        except ValueError:  # the window ended between add and incr: start the next one
            continue
    cache.set(key, 1, timeout=window)
    return 1


@dataclass(frozen=True)
class Attempt:
    """One counted password check: the counts it saw, and how it ends."""

    account: str
    ip: str
    account_count: int
    ip_count: int

    @property
    def is_over_limit(self) -> bool:
        return (
            self.account_count > settings.LOGIN_THROTTLE_PER_ACCOUNT
            or self.ip_count > settings.LOGIN_THROTTLE_PER_IP
        )

    @property
    def locks_account(self) -> bool:
        """Whether this attempt, failing, is the one that reaches the account's limit."""
        return self.account_count == settings.LOGIN_THROTTLE_PER_ACCOUNT

    @property
    def locks_address(self) -> bool:
        return self.ip_count == settings.LOGIN_THROTTLE_PER_IP

    def succeeded(self) -> None:
        account_key, ip_key = _keys(self.account, self.ip)
        cache.delete(account_key)
        with contextlib.suppress(ValueError):  # the address's window has ended meanwhile
            cache.decr(ip_key)


def count_attempt(account: str, ip: str) -> Attempt:
    """Count a password check for ``account`` from ``ip`` before it is made.

    Raises Throttled when the account or the address is over its limit: the caller must then
    not check the password at all, so a right password gets the lockout message too.
    """
    account_key, ip_key = _keys(account, ip)
    attempt = Attempt(account, ip, _count(account_key), _count(ip_key))
    if attempt.is_over_limit:
        raise Throttled(attempt)
    return attempt
