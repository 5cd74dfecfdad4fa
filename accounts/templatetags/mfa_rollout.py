"""``{% mfa_readiness %}``: who in the firm has MFA, before an admin makes it required."""

from typing import Any

from django import template

from ..views.mfa_rollout import readiness

register = template.Library()

# Names listed in the dialog; past this, "and N more" points to Manage Users' filter.
NAMES_SHOWN = 8


@register.inclusion_tag("accounts/_mfa_readiness.html", takes_context=True)
def mfa_readiness(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    ready = readiness(request.user.firm)
    return {
        "readiness": ready,
        "shown": ready.not_ready[:NAMES_SHOWN],
        "more": max(0, len(ready.not_ready) - NAMES_SHOWN),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
