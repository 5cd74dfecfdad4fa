"""Reminders until everyone has MFA: the 3-day schedule, its cap, the weekly digest, "Send now"."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts import reminders, tasks
from accounts.models import AuditEvent, MfaReminder, User
from tests.factories import make_user
from tests.passkeys import make_passkey
from tests.totp import make_device, sign_in

DAY = timedelta(days=1)


@pytest.fixture
def required(firm_a):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    return firm_a


def _reminded(user) -> list[str]:
    return [m.subject for m in mail.outbox if m.to == [user.email]]


def _age_reminders(user, by: timedelta) -> None:
    for reminder in MfaReminder.objects.filter(user=user):
        MfaReminder.objects.filter(pk=reminder.pk).update(sent_at=reminder.sent_at - by)


def test_a_user_without_mfa_is_reminded_at_once_and_then_not_again_within_3_days(required, bob):
    assert reminders.send_due_reminders(required) == 1
    assert _reminded(bob) == [
        "Action needed: set up multi-factor authentication for Alpha Accounting"
    ]
    assert reminders.send_due_reminders(required, now=timezone.now() + 2 * DAY) == 0
    assert len(_reminded(bob)) == 1


def test_the_next_reminder_comes_3_days_after_the_last_and_there_are_at_most_3(required, bob):
    sent = []
    for _ in range(5):
        sent.append(reminders.send_due_reminders(required))
        _age_reminders(bob, 3 * DAY)
    assert sent == [1, 1, 1, 0, 0]
    slots = MfaReminder.objects.filter(user=bob).values_list("slot", flat=True)
    assert sorted(slots) == ["auto-1", "auto-2", "auto-3"]


def test_the_reminder_when_the_requirement_started_counts_towards_the_3(required, bob, alice):
    make_device(alice)
    reminders.send_reminders(required, [bob], kind=MfaReminder.Kind.START)
    for _ in range(4):
        _age_reminders(bob, 3 * DAY)
        reminders.send_due_reminders(required)
    assert len(_reminded(bob)) == 3


def test_running_the_schedule_twice_sends_nothing_twice(required, bob):
    tasks.dispatch_mfa_reminders.delay()
    tasks.dispatch_mfa_reminders.delay()
    _age_reminders(bob, 3 * DAY)
    reminders.send_due_reminders(required)
    reminders.send_due_reminders(required)
    assert len(_reminded(bob)) == 2


def test_a_claimed_slot_is_never_sent_again(required, bob):
    # What a second worker meets when the first one claimed the reminder a moment earlier.
    MfaReminder.objects.create(
        firm=required, user=bob, kind="scheduled", slot="auto-1", sent_at=timezone.now() - 4 * DAY
    )
    assert reminders._record(required, bob, "scheduled", by=None, slot="auto-1") is False


def test_users_with_a_second_factor_and_inactive_users_are_not_reminded(required, alice, bob):
    make_device(alice)
    make_passkey(bob)
    make_user(required, "gone@alpha.example.com", is_active=False)
    assert reminders.send_due_reminders(required) == 0
    assert mail.outbox == []


def test_firms_that_do_not_require_mfa_get_no_reminders(firm_a, bob):
    assert tasks.dispatch_mfa_reminders.delay().get() == 0
    assert tasks.send_firm_mfa_reminders.delay(firm_a.pk).get() == 0
    assert mail.outbox == []


def test_a_connected_firm_requires_mfa_and_is_reminded(firm_a, bob, alice):
    from xpmsync.models import XpmConnection

    XpmConnection.objects.create(firm=firm_a, status="active", connected_by=alice)
    assert list(reminders.firms_requiring_mfa()) == [firm_a]
    tasks.dispatch_mfa_reminders.delay()
    assert "Xero Practice Manager" in mail.outbox[0].body


def test_each_reminder_is_audited_and_links_straight_to_configure_mfa(required, bob):
    reminders.send_due_reminders(required)
    event = AuditEvent.objects.get(firm=required, action="mfa_reminder_sent")
    assert event.detail == f"{bob.email}: scheduled reminder"
    assert "https://portal.example.com/accounts/settings/mfa/" in mail.outbox[0].body
    assert "Why:" in mail.outbox[0].body


def test_the_weekly_digest_names_who_is_not_set_up_and_goes_to_each_admin_once_a_week(
    required, alice, bob
):
    second_admin = make_user(required, "dana@alpha.example.com", role=User.Role.ADMIN)
    make_device(second_admin)
    make_device(alice)
    monday = timezone.now()
    assert reminders.send_digest(required, now=monday) == 2
    assert reminders.send_digest(required, now=monday) == 0
    digests = [m for m in mail.outbox if "still have no MFA" in m.subject]
    assert sorted(m.to[0] for m in digests) == [alice.email, second_admin.email]
    assert digests[0].subject == "1 of 3 users at Alpha Accounting still have no MFA"
    assert bob.email in digests[0].body
    assert "?mfa=missing" in digests[0].body
    assert AuditEvent.objects.filter(action="mfa_digest_sent").count() == 2

    assert reminders.send_digest(required, now=monday + 7 * DAY) == 2


def test_no_digest_when_everyone_has_mfa(required, alice, bob):
    make_device(alice)
    make_passkey(bob)
    assert tasks.dispatch_mfa_digests.delay().get() == 1
    assert mail.outbox == []


def test_beat_runs_the_reminders_hourly_and_the_digest_weekly():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["send-mfa-reminders"]["task"] == "accounts.tasks.dispatch_mfa_reminders"
    assert schedule["send-mfa-reminders"]["schedule"] == 3600.0
    digest = schedule["send-mfa-digests"]
    assert digest["task"] == "accounts.tasks.dispatch_mfa_digests"
    assert digest["schedule"].day_of_week == {0}


# --- Send reminder now, readiness, Manage Users' filter --------------------------------------


def test_send_reminder_now_emails_everyone_without_mfa_and_a_double_click_sends_once(
    verified, alice, bob, firm_a
):
    admin = verified(alice)
    mail.outbox.clear()
    response = admin.post("/accounts/users/mfa-reminders/", {"next": "/clients/manage/"})
    assert response.status_code == 302
    assert response["Location"] == "/clients/manage/"
    admin.post("/accounts/users/mfa-reminders/", {"next": "/clients/manage/"})
    assert [m.to for m in mail.outbox] == [[bob.email]]
    reminder = MfaReminder.objects.get(user=bob)
    assert (reminder.kind, reminder.slot) == ("manual", None)
    assert AuditEvent.objects.get(action="mfa_reminder_sent").actor == alice


def test_bob_cannot_send_reminders(bob_client, alice):
    assert bob_client.post("/accounts/users/mfa-reminders/").status_code == 403
    assert MfaReminder.objects.count() == 0


def test_the_connect_steps_show_who_is_ready_and_who_is_not(verified, alice, bob, firm_a):
    make_user(firm_a, "cleo@alpha.example.com", first_name="Cleo", last_name="Ng")
    admin = verified(alice)
    page = admin.get("/xpm/").content.decode()
    assert "1 of 3 users have MFA" in page
    assert "Bob" in page and "Cleo Ng" in page
    assert "Send reminder now" in page
    dialog = admin.get("/clients/manage/").content.decode()
    assert "1 of 3 users have MFA" in dialog


def test_the_connect_steps_say_when_everyone_is_ready(verified, alice, bob):
    make_passkey(bob)
    page = verified(alice).get("/xpm/").content.decode()
    assert "2 of 2 users have MFA" in page
    assert "Send reminder now" not in page


def test_manage_users_filters_the_users_without_mfa(verified, alice, bob, firm_a):
    make_user(firm_a, "keyed@alpha.example.com", first_name="Keyed")
    make_passkey(firm_a.users.get(email="keyed@alpha.example.com"))
    admin = verified(alice)
    page = admin.get("/accounts/users/?mfa=missing").content.decode()
    assert bob.email in page
    assert "keyed@alpha.example.com" not in page
    assert alice.email not in page


def test_manage_users_lists_each_users_factors(client, alice, bob):
    device = make_device(alice)
    make_passkey(bob, "Phone")
    make_passkey(bob, "YubiKey")
    sign_in(client, alice, device)
    page = client.get("/accounts/users/").content.decode()
    assert "Authenticator app" in page
    assert "2 passkeys" in page
    assert "0 backup codes left" in page
