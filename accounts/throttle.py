"""Throttling of failed password logins, per account and per client address.

Counters live in the cache (Redis in production) in fixed windows, so a lockout always ends by
itself: nobody is locked out permanently, and an office sharing one address gets a larger
allowance than a single account. A successful login clears the account's counter.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


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


def _keys(email: str, ip: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"login-fail:account:{digest}", f"login-fail:ip:{ip}"


def is_locked_out(email: str, ip: str) -> bool:
    account_key, ip_key = _keys(email, ip)
    counts = cache.get_many([account_key, ip_key])
    return (
        counts.get(account_key, 0) >= settings.LOGIN_THROTTLE_PER_ACCOUNT
        or counts.get(ip_key, 0) >= settings.LOGIN_THROTTLE_PER_IP
    )


def record_failure(email: str, ip: str) -> None:
    for key in _keys(email, ip):
        # add() starts the window only if no counter exists; incr() keeps its expiry.
        cache.add(key, 0, timeout=settings.LOGIN_THROTTLE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW)


def clear_account(email: str, ip: str) -> None:
    account_key, _ = _keys(email, ip)
    cache.delete(account_key)
