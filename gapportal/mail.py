"""The one helper that sends the portal's emails, from ``templates/emails/<name>.*``."""

from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string


def send_templated_email(name: str, to: Iterable[str], context: dict[str, Any]) -> None:
    """Render ``emails/<name>_subject.txt``, ``.txt`` and optional ``.html``, and send them."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    body = render_to_string(f"emails/{name}.txt", context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=list(to))
    with suppress(TemplateDoesNotExist):
        message.attach_alternative(render_to_string(f"emails/{name}.html", context), "text/html")
    message.send()
