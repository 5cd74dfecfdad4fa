"""The one helper that sends the portal's emails, from ``templates/emails/<name>.*``."""

import zoneinfo
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone


def send_templated_email(name: str, to: Iterable[str], context: dict[str, Any]) -> None:
    """Render ``emails/<name>_subject.txt``, ``.txt`` and optional ``.html``, and send them.

    Times in it are shown in the zone of the recipient's firm (``context["user"]``'s), as the
    portal's pages are; tasks run outside any request, so nothing else would set it.
    """
    context = {"site_url": settings.SITE_URL, **context}
    with timezone.override(_zone_of(context.get("user"))):
        subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
        body = render_to_string(f"emails/{name}.txt", context)
        html = None
        with suppress(TemplateDoesNotExist):
            html = render_to_string(f"emails/{name}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=list(to))
    if html is not None:
        message.attach_alternative(html, "text/html")
    message.send()


def _zone_of(user: Any) -> Any:
    firm = getattr(user, "firm", None)
    zone = getattr(firm, "time_zone", "") or ""
    try:
        return zoneinfo.ZoneInfo(zone) if zone else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
