from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Firm, User

DEMO_FIRM = "Demo Accounting Pty Ltd"
# Well-known demo credentials, printed by `make run`. Refused outside DEBUG.
DEMO_USERS = [
    ("admin@demo.gapportal.local", "Alex", "Admin", User.Role.ADMIN),
    ("staff@demo.gapportal.local", "Sam", "Staff", User.Role.USER),
]
DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105


class Command(BaseCommand):
    help = "Create the demo firm with an admin and a staff user (development only; idempotent)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo only runs with DEBUG on.")
        with transaction.atomic():
            firm, _ = Firm.objects.get_or_create(name=DEMO_FIRM, defaults={"seat_limit": 10})
            for email, first_name, last_name, role in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    email=email,
                    defaults={
                        "firm": firm,
                        "first_name": first_name,
                        "last_name": last_name,
                        "role": role,
                    },
                )
                if created:
                    user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS(f"Demo firm: {firm}"))
        for email, _first, _last, role in DEMO_USERS:
            self.stdout.write(f"  {role.label:<11} {email}  password: {DEMO_PASSWORD}")
        self.stdout.write("  (a password you changed since stays changed)")
