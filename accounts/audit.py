"""Writing the audit log."""

from django.http import HttpRequest

from .models import AuditEvent, Firm, User
from .throttle import client_ip


def record(
    firm: Firm,
    action: str,
    *,
    actor: User | None = None,
    detail: str = "",
    request: HttpRequest | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event to the firm's audit log. Never pass secrets in ``detail``.

    The address comes from ``request``, or from ``ip_address`` where a service has no request.
    """
    if request is not None:
        ip_address = client_ip(request)
    return AuditEvent.objects.create(
        firm=firm,
        action=action,
        actor=actor,
        actor_email=actor.email if actor else "",
        detail=detail[:500],
        ip_address=ip_address or None,
    )
