"""Alerts on attacks against accounts: a WARNING log line, and an audit event admins can filter.

Raised once per lockout (when an account's failures reach the throttle's limit), not on every
wrong guess, so a log watcher sees one line per account under attack.
"""

import hashlib
import logging

from . import audit
from .models import AuditEvent, User

logger = logging.getLogger("accounts.security")


def _account_ref(account: str) -> str:
    # Logs carry a digest, not the address someone typed (it may not be anyone's).
    return hashlib.sha256(account.strip().lower().encode()).hexdigest()[:12]


def repeated_failures(user: User | None, *, what: str, account: str, ip: str) -> None:
    """``what`` ("passwords" or "codes") failed too often for one account; it is now throttled."""
    logger.warning(
        "Repeated failed %s for one account: user_id=%s account=%s ip=%s; throttled",
        what,
        user.pk if user else None,
        _account_ref(account),
        ip,
    )
    if user is not None and user.firm_id:
        audit.record(
            user.firm,
            AuditEvent.Action.REPEATED_FAILURES,
            actor=user,
            detail=f"Too many wrong {what}; further attempts are refused for a while.",
            ip_address=ip,
        )


def address_throttled(ip: str) -> None:
    """One client address failed too many passwords, across accounts."""
    logger.warning("Repeated failed passwords from one address: ip=%s; throttled", ip)
