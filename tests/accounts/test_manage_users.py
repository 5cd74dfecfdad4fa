import re

import pytest
from django.core import mail

from accounts.models import AuditEvent, User
from accounts.users import UserChangeRefused, delete_user
from tests.factories import make_user
from tests.queries import count_queries

NEW_USER = {
    "first_name": "Dana",
    "last_name": "Nguyen",
    "email": "dana@alpha.example.com",
    "role": "user",
}


def test_alice_sees_her_firms_users_and_seat_count(alice_client, bob, carol):
    response = alice_client.get("/accounts/users/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "bob@alpha.example.com" in content
    assert "carol@bravo.example.com" not in content
    assert "2 of 5 seats used" in content


def test_user_search_matches_name_and_email(alice_client, bob, firm_a):
    make_user(firm_a, "zed@alpha.example.com", first_name="Zed")
    content = alice_client.get("/accounts/users/?q=zed").content.decode()
    assert "zed@alpha.example.com" in content
    assert "bob@alpha.example.com" not in content


def test_user_list_query_count_does_not_grow_with_users(alice_client, firm_a):
    few = count_queries(alice_client, "/accounts/users/")
    for _ in range(20):
        make_user(firm_a)
    assert count_queries(alice_client, "/accounts/users/") == few


def test_adding_a_user_invites_them_to_choose_a_password(alice_client, firm_a, client):
    response = alice_client.post("/accounts/users/add/", NEW_USER)
    assert response.status_code == 302
    dana = User.objects.get(email="dana@alpha.example.com")
    assert dana.firm == firm_a
    assert not dana.has_usable_password()
    assert AuditEvent.objects.filter(action="user_invited", detail=dana.email).exists()
    assert mail.outbox[0].to == ["dana@alpha.example.com"]
    link = re.search(
        r"https://portal\.example\.com(/accounts/invitation/\S+/)", mail.outbox[0].body
    )
    set_url = client.get(link.group(1), follow=True).redirect_chain[-1][0]
    password = "dana-chooses-a-long-one"
    client.post(set_url, {"new_password1": password, "new_password2": password})
    dana.refresh_from_db()
    assert dana.check_password(password)


def test_adding_past_the_seat_limit_is_refused(alice_client, firm_a):
    firm_a.seat_limit = 1
    firm_a.save()
    response = alice_client.post("/accounts/users/add/", NEW_USER)
    assert response.status_code == 200
    assert "using all 1 of its user seats" in response.content.decode()
    assert not User.objects.filter(email=NEW_USER["email"]).exists()
    assert mail.outbox == []


def test_inactive_users_do_not_take_a_seat(alice_client, firm_a):
    firm_a.seat_limit = 2
    firm_a.save()
    make_user(firm_a, is_active=False)
    assert alice_client.post("/accounts/users/add/", NEW_USER).status_code == 302


def test_reactivating_past_the_seat_limit_is_refused(sudo_alice_client, firm_a):
    firm_a.seat_limit = 1
    firm_a.save()
    dormant = make_user(firm_a, "dormant@alpha.example.com", is_active=False)
    data = {**NEW_USER, "email": dormant.email, "is_active": "on"}
    response = sudo_alice_client.post(f"/accounts/users/{dormant.pk}/", data)
    assert "using all 1 of its user seats" in response.content.decode()
    dormant.refresh_from_db()
    assert not dormant.is_active


def test_an_email_used_in_another_firm_is_refused(alice_client, carol):
    response = alice_client.post(
        "/accounts/users/add/", {**NEW_USER, "email": "CAROL@bravo.example.com"}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="carol@bravo.example.com").count() == 1


def test_firm_ids_in_the_form_are_ignored(alice_client, firm_a, firm_b):
    alice_client.post("/accounts/users/add/", {**NEW_USER, "firm": firm_b.pk})
    assert User.objects.get(email=NEW_USER["email"]).firm == firm_a


def test_alice_edits_bobs_role(sudo_alice_client, bob):
    data = {
        "first_name": "Bob",
        "last_name": "Builder",
        "email": bob.email,
        "role": "admin",
        "is_active": "on",
    }
    assert sudo_alice_client.post(f"/accounts/users/{bob.pk}/", data).status_code == 302
    bob.refresh_from_db()
    assert bob.role == User.Role.ADMIN
    assert bob.last_name == "Builder"


def test_last_active_admin_cannot_be_demoted_or_deactivated(sudo_alice_client, alice, bob):
    demote = {
        "first_name": "Alice",
        "last_name": "A",
        "email": alice.email,
        "role": "user",
        "is_active": "on",
    }
    response = sudo_alice_client.post(f"/accounts/users/{alice.pk}/", demote)
    assert "last active admin" in response.content.decode()
    deactivate = {**demote, "role": "admin", "is_active": ""}
    response = sudo_alice_client.post(f"/accounts/users/{alice.pk}/", deactivate)
    assert "last active admin" in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active and alice.role == User.Role.ADMIN


def test_admin_can_step_down_when_another_admin_remains(sudo_alice_client, alice, firm_a):
    make_user(firm_a, "second-admin@alpha.example.com", role=User.Role.ADMIN)
    data = {
        "first_name": "Alice",
        "last_name": "A",
        "email": alice.email,
        "role": "user",
        "is_active": "on",
    }
    assert sudo_alice_client.post(f"/accounts/users/{alice.pk}/", data).status_code == 302
    alice.refresh_from_db()
    assert alice.role == User.Role.USER


def test_alice_deletes_bob(sudo_alice_client, bob):
    response = sudo_alice_client.post(f"/accounts/users/{bob.pk}/delete/")
    assert response.status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()
    assert AuditEvent.objects.filter(action="user_deleted", detail=bob.email).exists()


def test_nobody_deletes_themselves(sudo_alice_client, alice):
    response = sudo_alice_client.post(f"/accounts/users/{alice.pk}/delete/", follow=True)
    assert "You cannot delete your own account." in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_last_active_admin_cannot_be_deleted(alice, bob):
    # Through the pages only an active admin can delete, and never themselves; the service
    # holds the rule on its own too.
    with pytest.raises(UserChangeRefused, match="last active admin"):
        delete_user(alice, by=bob)
    assert User.objects.filter(pk=alice.pk).exists()


def test_delete_is_post_only(alice_client, bob):
    assert alice_client.get(f"/accounts/users/{bob.pk}/delete/").status_code == 405
    assert User.objects.filter(pk=bob.pk).exists()


def test_audit_log_shows_only_the_firms_events(alice_client, alice, carol, firm_a, firm_b):
    from accounts import audit

    audit.record(firm_a, AuditEvent.Action.USER_CHANGED, actor=alice, detail="alpha-event")
    audit.record(firm_b, AuditEvent.Action.USER_CHANGED, actor=carol, detail="bravo-event")
    content = alice_client.get("/accounts/audit-log/").content.decode()
    assert "alpha-event" in content
    assert "bravo-event" not in content
