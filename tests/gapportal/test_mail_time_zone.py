"""Emails show times in the recipient's firm's zone, as its pages do."""

from datetime import UTC, datetime

from django.core import mail
from django.test.utils import override_settings

from gapportal.mail import send_templated_email

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "loaders": [
                (
                    "django.template.loaders.locmem.Loader",
                    {
                        "emails/when_subject.txt": "When",
                        "emails/when.txt": '{{ when|date:"j M H:i T" }}',
                    },
                )
            ]
        },
    }
]


@override_settings(TEMPLATES=TEMPLATES)
def test_an_email_shows_times_in_the_firms_zone(alice, firm_a):
    firm_a.time_zone = "Pacific/Auckland"
    firm_a.save(update_fields=["time_zone"])
    when = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
    send_templated_email("when", [alice.email], {"user": alice, "when": when})
    assert mail.outbox[-1].body == "2 Dec 09:30 NZDT"


@override_settings(TEMPLATES=TEMPLATES, TIME_ZONE="UTC")
def test_an_email_to_no_firm_user_uses_the_portals_zone(db):
    when = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
    send_templated_email("when", ["ops@example.com"], {"when": when})
    assert mail.outbox[-1].body == "1 Dec 20:30 UTC"
