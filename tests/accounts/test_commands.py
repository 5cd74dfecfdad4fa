import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.models import Firm, User


def test_create_firm_makes_a_firm_and_invites_its_admin(db, capsys):
    call_command(
        "create_firm", "Charlie & Co", "--admin-email", "Chief@Charlie.example.com", "--seats", "7"
    )
    firm = Firm.objects.get(name="Charlie & Co")
    admin = User.objects.get(email="chief@charlie.example.com")
    assert firm.seat_limit == 7
    assert admin.firm == firm and admin.is_firm_admin and not admin.has_usable_password()
    assert mail.outbox[0].to == ["chief@charlie.example.com"]
    assert "/accounts/invitation/" in capsys.readouterr().out


def test_create_firm_refuses_an_email_already_in_use(alice):
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_firm", "Another", "--admin-email", alice.email)
    assert not Firm.objects.filter(name="Another").exists()


def test_seed_demo_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    admin = User.objects.get(email="admin@demo.gapportal.local")
    admin.set_password("changed-by-the-user-123")
    admin.save()
    call_command("seed_demo")
    assert Firm.objects.count() == 1
    assert User.objects.count() == 2
    admin.refresh_from_db()
    assert admin.check_password("changed-by-the-user-123")


def test_seed_demo_refuses_to_run_in_production(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
