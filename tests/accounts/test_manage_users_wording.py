"""Manage Users says what is true: seats used (invited users count), who is only invited, what a
change did, and why MFA is locked on."""

import pytest
from django.core import mail
from django.test import Client as HttpClient

from accounts.models import AuditEvent, User
from accounts.users import UserChangeRefused, resend_invitation, seat_use
from tests.factories import make_user
from tests.totp import sign_in
from tests.xpmsync.factories import make_connection

NEW_USER = {
    "first_name": "Dana",
    "last_name": "Nguyen",
    "email": "dana@alpha.example.com",
    "role": "user",
}


def invite(firm, email="ivy@alpha.example.com", **fields):
    user = make_user(firm, email, first_name="Ivy", **fields)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def edit_data(user, **changes):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
    }
    return {**data, **changes}


def test_seats_count_active_and_invited_users_but_not_deactivated_ones(alice, bob, firm_a):
    invite(firm_a)
    make_user(firm_a, "gone@alpha.example.com", is_active=False)
    seats = seat_use(firm_a)
    assert (seats.used, seats.limit, seats.invited, seats.inactive) == (3, 5, 1, 1)
    assert seats.used == firm_a.active_user_count()


def test_manage_users_says_seats_used_and_that_invited_users_take_one(alice_client, bob, firm_a):
    invite(firm_a)
    make_user(firm_a, "gone@alpha.example.com", is_active=False)
    content = alice_client.get("/accounts/users/").content.decode()
    assert "3 of 5 seats used" in content
    assert "including 1 invited user who has not signed in yet" in content
    assert "1 deactivated user takes none" in content


def test_an_invited_user_shows_invited_with_resend_not_active(alice_client, firm_a, bob):
    ivy = invite(firm_a)
    content = alice_client.get("/accounts/users/").content.decode()
    assert '<span class="status status-warn">Invited</span>' in content
    assert f'action="/accounts/users/{ivy.pk}/resend-invitation/"' in content
    # bob chose his password long ago: active, nothing to resend
    assert f'action="/accounts/users/{bob.pk}/resend-invitation/"' not in content


def test_resending_an_invitation_emails_a_fresh_link_and_is_audited(alice_client, alice, firm_a):
    ivy = invite(firm_a)
    response = alice_client.post(f"/accounts/users/{ivy.pk}/resend-invitation/", follow=True)
    assert f"A new invitation was emailed to {ivy.email}." in response.content.decode()
    assert [m.to for m in mail.outbox] == [[ivy.email]]
    assert "/accounts/invitation/" in mail.outbox[0].body
    event = AuditEvent.objects.get(action=AuditEvent.Action.INVITATION_RESENT)
    assert (event.actor, event.detail) == (alice, ivy.email)


def test_an_invitation_is_resent_at_most_once_in_five_minutes(alice_client, firm_a):
    ivy = invite(firm_a)
    alice_client.post(f"/accounts/users/{ivy.pk}/resend-invitation/")
    response = alice_client.post(f"/accounts/users/{ivy.pk}/resend-invitation/", follow=True)
    assert "a few minutes ago" in response.content.decode()
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INVITATION_RESENT).count() == 1


def test_a_user_who_chose_a_password_gets_no_invitation_again(alice, bob):
    with pytest.raises(UserChangeRefused, match="already accepted"):
        resend_invitation(bob, by=alice)
    assert mail.outbox == []


def test_resend_invitation_is_post_only_and_admin_only(alice_client, bob_client, firm_a):
    ivy = invite(firm_a)
    assert alice_client.get(f"/accounts/users/{ivy.pk}/resend-invitation/").status_code == 405
    assert bob_client.post(f"/accounts/users/{ivy.pk}/resend-invitation/").status_code == 403
    assert mail.outbox == []


def test_carol_cannot_resend_alices_invitations(carol_client, firm_a):
    ivy = invite(firm_a)
    assert carol_client.post(f"/accounts/users/{ivy.pk}/resend-invitation/").status_code == 404
    assert mail.outbox == []


def test_deactivating_says_what_happened_and_signs_them_out(sudo_alice_client, bob):
    bobs_browser = HttpClient()
    bobs_browser.force_login(bob)
    response = sudo_alice_client.post(
        f"/accounts/users/{bob.pk}/", edit_data(bob, is_active=""), follow=True
    )
    assert "Bob Example was deactivated and signed out everywhere" in response.content.decode()
    assert bobs_browser.get("/clients/").status_code == 302
    bob.refresh_from_db()
    assert not bob.is_active


def test_user_changes_are_logged_in_plain_words(sudo_alice_client, bob):
    sudo_alice_client.post(f"/accounts/users/{bob.pk}/", edit_data(bob, role="admin"))
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_CHANGED)
    assert event.detail == f"{bob.email}: Role: Firm user → Firm admin"
    bob.refresh_from_db()
    sudo_alice_client.post(f"/accounts/users/{bob.pk}/", edit_data(bob, is_active=""))
    latest = AuditEvent.objects.filter(action=AuditEvent.Action.USER_CHANGED).first()
    assert latest.detail == f"{bob.email}: Deactivated"
    assert "is_active" not in latest.detail


def test_a_role_change_message_names_the_change(sudo_alice_client, bob):
    response = sudo_alice_client.post(
        f"/accounts/users/{bob.pk}/", edit_data(bob, last_name="Builder"), follow=True
    )
    assert "Last name: Example → Builder" in response.content.decode()


def test_require_mfa_shows_ticked_and_locked_while_connected_to_xpm(alice, firm_a):
    make_connection(firm_a, alice)
    content = sign_in(HttpClient(), alice).get("/accounts/users/").content.decode()
    assert 'name="required"' in content
    checkbox = content[
        content.index('name="required"') - 200 : content.index('name="required"') + 200
    ]
    assert "checked" in checkbox and "disabled" in checkbox
    assert "Locked on: your firm is connected to Xero Practice Manager" in content
    assert "Save MFA setting" not in content


def test_require_mfa_is_an_open_choice_when_not_connected(alice_client):
    content = alice_client.get("/accounts/users/").content.decode()
    checkbox = content[
        content.index('name="required"') - 200 : content.index('name="required"') + 200
    ]
    assert "disabled" not in checkbox and "checked" not in checkbox
    assert "Save MFA setting" in content


def test_the_add_user_page_shows_free_seats_before_the_form(alice_client, bob):
    content = alice_client.get("/accounts/users/add/").content.decode()
    assert "2 of 5 seats used" in content
    assert "takes one of the 3 free seats" in content
    assert "Add user and send invitation" in content


def test_the_add_user_page_says_the_firm_is_full_instead_of_offering_the_form(
    alice_client, firm_a, bob
):
    firm_a.seat_limit = 2
    firm_a.save(update_fields=["seat_limit"])
    listing = alice_client.get("/accounts/users/").content.decode()
    assert "no seat is free" in listing
    content = alice_client.get("/accounts/users/add/").content.decode()
    assert "using all 2 of its user seats, so no one can be added" in content
    assert "Add user and send invitation" not in content
    response = alice_client.post("/accounts/users/add/", NEW_USER)
    assert "using all 2 of its user seats" in response.content.decode()
    assert not User.objects.filter(email=NEW_USER["email"]).exists()


def test_old_audit_details_with_field_names_read_in_plain_words(alice_client, alice, firm_a):
    from accounts import audit

    audit.record(
        firm_a, AuditEvent.Action.USER_CHANGED, actor=alice, detail="bob@x.example: is_active, role"
    )
    content = alice_client.get("/accounts/audit-log/").content.decode()
    assert "bob@x.example: Active or deactivated, Role changed" in content
    assert "is_active" not in content
