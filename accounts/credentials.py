"""Every password check in the portal: the login and each "current password" field.

Each check is counted by the throttle before the password is hashed, so parallel guesses cannot
pass the limit; it is audited in the firm of the account it named; and the attempt that locks an
account raises an alert (``monitoring``). The Django admin has no password form of its own
(``accounts.admin``), and the set-password links check a token, not a password.
"""

from django.contrib.auth import authenticate
from django.http import HttpRequest

from . import audit, monitoring, throttle
from .models import AuditEvent, User
from .throttle import Throttled

__all__ = ["Throttled", "authenticate_login", "check_current_password"]


def _firm_user(email: str) -> User | None:
    return (
        User.objects.filter(email__iexact=email.strip(), firm__isnull=False)
        .select_related("firm")
        .first()
    )


def _failed(attempt: throttle.Attempt, user: User | None) -> None:
    if attempt.locks_account:
        monitoring.repeated_failures(user, what="passwords", account=attempt.account, ip=attempt.ip)
    if attempt.locks_address:
        monitoring.address_throttled(attempt.ip)


def authenticate_login(request: HttpRequest | None, email: str, password: str) -> User | None:
    """The login's check of an email and password; None when they do not match.

    Raises Throttled, without checking, while the account or the address is locked out.
    """
    ip = throttle.client_ip(request) if request is not None else ""
    try:
        attempt = throttle.count_attempt(email, ip)
    except Throttled:
        _audit_login_failure(email, "refused while throttled", ip)
        raise
    user = authenticate(request, username=email, password=password)
    if user is None:
        _audit_login_failure(email, "wrong password", ip)
        _failed(attempt, _firm_user(email))
        return None
    attempt.succeeded()
    return user


def _audit_login_failure(email: str, detail: str, ip: str) -> None:
    """Log a failed login in the firm of the account it named, if there is one."""
    user = _firm_user(email)
    if user is not None:
        audit.record(
            user.firm, AuditEvent.Action.LOGIN_FAILED, actor=user, detail=detail, ip_address=ip
        )


def check_current_password(user: User, password: str, *, ip: str, purpose: str) -> bool:
    """Whether ``password`` is the signed-in ``user``'s own, typed again to confirm an action.

    Counted with the login's attempts for the same account, so a stolen session cannot guess
    the password here either. Raises Throttled, without checking, while locked out.
    """
    try:
        attempt = throttle.count_attempt(user.email, ip)
    except Throttled:
        _audit_reauth_failure(user, f"{purpose}: refused while throttled", ip)
        raise
    if user.check_password(password):
        attempt.succeeded()
        return True
    _audit_reauth_failure(user, f"{purpose}: wrong password", ip)
    _failed(attempt, user)
    return False


def _audit_reauth_failure(user: User, detail: str, ip: str) -> None:
    if user.firm_id:
        audit.record(
            user.firm,
            AuditEvent.Action.PASSWORD_CHECK_FAILED,
            actor=user,
            detail=detail,
            ip_address=ip,
        )
