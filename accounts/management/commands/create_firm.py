from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Firm, User
from accounts.users import invitation_url
from gapportal.mail import send_templated_email


class Command(BaseCommand):
    help = "Create a firm and its first admin, who is emailed a link to choose a password."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The firm's name.")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-first-name", default="")
        parser.add_argument("--admin-last-name", default="")
        parser.add_argument("--seats", type=int, default=5, help="Seat limit (default 5).")

    def handle(self, *args, name, admin_email, admin_first_name, admin_last_name, seats, **opts):
        if seats < 1:
            raise CommandError("--seats must be at least 1.")
        email = User.objects.normalize_email(admin_email).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(f"A user with the email address {email} already exists.")
        with transaction.atomic():
            firm = Firm.objects.create(name=name, seat_limit=seats)
            admin = User(
                firm=firm,
                email=email,
                first_name=admin_first_name,
                last_name=admin_last_name,
                role=User.Role.ADMIN,
            )
            admin.set_unusable_password()
            try:
                admin.full_clean()
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from error
            admin.save()
        url = invitation_url(admin)
        send_templated_email(
            "invitation", [email], {"user": admin, "firm": firm, "invited_by": None, "url": url}
        )
        self.stdout.write(
            self.style.SUCCESS(f"Created firm “{firm}” (id {firm.pk}, {seats} seats).")
        )
        self.stdout.write(f"Invitation emailed to {email}. Set-password link: {url}")
