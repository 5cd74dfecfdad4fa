"""Sudo mode: dangerous admin actions need the password or a code from the last 10 minutes."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpResponse
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent, User
from accounts.sessions import PASSWORD_CONFIRMED_AT
from accounts.sudo import CODE_CONFIRMED_AT, is_sudo, sudo_required
from tests.factories import PASSWORD, make_user
from tests.totp import enrol, make_device, sign_in

CONFIRM = "/accounts/confirm/"
ELEVEN_MINUTES = 11 * 60


def edit_data(user, **changes):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
    }
    return {**data, **changes}


def sent_to_confirm(response, then):
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == CONFIRM
    assert parse_qs(location.query)["next"] == [then]
    return True


def age_session(http, seconds=ELEVEN_MINUTES):
    """Move this session's password and code entries ``seconds`` into the past."""
    session = http.session
    for key in (PASSWORD_CONFIRMED_AT, CODE_CONFIRMED_AT):
        if key in session:
            session[key] -= seconds
    session.save()


# --- Without a recent password or code: sent to confirm, nothing changed ------------------------


def test_deleting_a_user_without_recent_auth_asks_to_confirm_first(alice_client, bob):
    edit_page = f"/accounts/users/{bob.pk}/"
    response = alice_client.post(f"/accounts/users/{bob.pk}/delete/", {"next": edit_page})
    assert sent_to_confirm(response, then=edit_page)
    assert User.objects.filter(pk=bob.pk).exists()


def test_resetting_mfa_without_recent_auth_asks_to_confirm_first(alice_client, bob):
    make_device(bob)
    edit_page = f"/accounts/users/{bob.pk}/"
    response = alice_client.post(f"/accounts/users/{bob.pk}/reset-mfa/", {"next": edit_page})
    assert sent_to_confirm(response, then=edit_page)
    assert TOTPDevice.objects.filter(user=bob).exists()
    bob.refresh_from_db()
    assert not bob.must_enrol_mfa


@pytest.mark.parametrize(
    "changes",
    [{"is_active": ""}, {"role": "admin"}, {"email": "someone-else@example.com"}],
    ids=["deactivate", "role", "email"],
)
def test_dangerous_edits_without_recent_auth_ask_to_confirm_first(alice_client, bob, changes):
    edit_page = f"/accounts/users/{bob.pk}/"
    response = alice_client.post(edit_page, edit_data(bob, **changes))
    assert sent_to_confirm(response, then=edit_page)
    fresh = User.objects.get(pk=bob.pk)
    assert (fresh.is_active, fresh.role, fresh.email) == (True, "user", "bob@alpha.example.com")


def test_a_name_change_needs_no_confirmation(alice_client, bob):
    response = alice_client.post(f"/accounts/users/{bob.pk}/", edit_data(bob, last_name="Jones"))
    assert response["Location"] == "/accounts/users/"
    bob.refresh_from_db()
    assert bob.last_name == "Jones"


def test_a_post_without_next_returns_to_the_page_it_came_from(alice_client, bob):
    edit_page = f"http://testserver/accounts/users/{bob.pk}/"
    response = alice_client.post(f"/accounts/users/{bob.pk}/delete/", HTTP_REFERER=edit_page)
    assert sent_to_confirm(response, then=edit_page)


def test_a_next_to_another_site_is_never_followed(alice_client, bob):
    response = alice_client.post(
        f"/accounts/users/{bob.pk}/delete/", {"next": "https://evil.example.com/"}
    )
    assert sent_to_confirm(response, then="/")


def test_a_script_gets_403_rather_than_the_confirm_page(alice_client, bob):
    response = alice_client.post(
        f"/accounts/users/{bob.pk}/delete/", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=bob.pk).exists()


def test_carol_still_gets_404_not_the_confirm_page(carol_client, bob):
    assert carol_client.post(f"/accounts/users/{bob.pk}/delete/").status_code == 404
    assert carol_client.post(f"/accounts/users/{bob.pk}/reset-mfa/").status_code == 404


# --- With a recent password or code: done --------------------------------------------------------


def test_after_confirming_with_the_password_alice_goes_back_and_deletes_bob(alice_client, bob):
    edit_page = f"/accounts/users/{bob.pk}/"
    confirm = alice_client.post(CONFIRM, {"password": PASSWORD, "next": edit_page})
    assert confirm["Location"] == edit_page
    assert AuditEvent.objects.filter(action="sudo_confirmed", detail="with the password").exists()
    response = alice_client.post(f"/accounts/users/{bob.pk}/delete/")
    assert response["Location"] == "/accounts/users/"
    assert not User.objects.filter(pk=bob.pk).exists()


def test_in_sudo_mode_alice_resets_mfa_deactivates_and_changes_roles(sudo_alice_client, bob):
    make_device(bob)
    sudo_alice_client.post(f"/accounts/users/{bob.pk}/reset-mfa/")
    assert not TOTPDevice.objects.filter(user=bob).exists()
    sudo_alice_client.post(f"/accounts/users/{bob.pk}/", edit_data(bob, role="admin"))
    bob.refresh_from_db()
    assert bob.role == User.Role.ADMIN
    sudo_alice_client.post(f"/accounts/users/{bob.pk}/", edit_data(bob, is_active=""))
    bob.refresh_from_db()
    assert not bob.is_active


def test_logging_in_with_the_password_counts_as_recent(client, alice, bob):
    client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    client.post(f"/accounts/users/{bob.pk}/delete/")
    assert not User.objects.filter(pk=bob.pk).exists()


def test_sudo_mode_ends_after_ten_minutes(sudo_alice_client, bob):
    age_session(sudo_alice_client)
    response = sudo_alice_client.post(f"/accounts/users/{bob.pk}/delete/")
    assert sent_to_confirm(response, then="/")
    assert User.objects.filter(pk=bob.pk).exists()


def test_a_wrong_password_does_not_confirm(alice_client, bob):
    response = alice_client.post(CONFIRM, {"password": "not-the-password-at-all"})
    assert response.status_code == 400
    assert "not your current password" in response.content.decode()
    assert AuditEvent.objects.filter(action="password_check_failed").exists()
    alice_client.post(f"/accounts/users/{bob.pk}/delete/")
    assert User.objects.filter(pk=bob.pk).exists()


def test_the_confirm_page_shares_the_login_throttle(alice_client, alice):
    for _ in range(5):
        Client().post("/accounts/login/", {"username": alice.email, "password": "wrong-guess-1234"})
    response = alice_client.post(CONFIRM, {"password": PASSWORD})
    assert "Too many wrong passwords" in response.content.decode()


def test_an_admin_with_mfa_confirms_with_a_code_instead(client, alice, bob):
    device, backup_codes = enrol(alice)
    sign_in(client, alice, device, steps=1)
    age_session(client)
    edit_page = f"/accounts/users/{bob.pk}/"
    assert sent_to_confirm(
        client.post(f"/accounts/users/{bob.pk}/delete/", {"next": edit_page}), then=edit_page
    )
    page = client.get(f"{CONFIRM}?next={edit_page}").content.decode()
    assert "Confirm with code" in page
    wrong = client.post(CONFIRM, {"code": "000000", "next": edit_page})
    assert "That code is not right" in wrong.content.decode()
    device.throttle_reset()
    # The login spent the newest time step, so a backup code it is (either kind works here).
    right = client.post(CONFIRM, {"code": backup_codes[0], "next": edit_page})
    assert right["Location"] == edit_page
    client.post(f"/accounts/users/{bob.pk}/delete/")
    assert not User.objects.filter(pk=bob.pk).exists()


def test_an_admin_without_mfa_is_offered_no_code(alice_client):
    assert "Confirm with code" not in alice_client.get(CONFIRM).content.decode()


def test_an_unverified_session_of_an_admin_with_mfa_is_never_sudo(rf, alice):
    make_device(alice)
    request = _request(rf, alice, **{PASSWORD_CONFIRMED_AT: int(time.time())})
    request.user.is_verified = lambda: False
    assert not is_sudo(request)
    request.user.is_verified = lambda: True
    assert is_sudo(request)


# --- The decorator, for views without an object id ----------------------------------------------


def _request(rf, user, method="post", **session):
    from django.contrib.sessions.backends.db import SessionStore

    request = getattr(rf, method)("/xpm/disconnect/", HTTP_ACCEPT="text/html")
    request.user = user
    request.session = SessionStore()
    request.session.update(session)
    request._messages = FallbackStorage(request)
    return request


def test_sudo_required_runs_the_view_only_in_sudo_mode(rf, alice):
    view = sudo_required(lambda request: HttpResponse("done"))
    refused = view(_request(rf, alice))
    assert refused.status_code == 302
    assert refused["Location"].startswith(CONFIRM)
    allowed = view(_request(rf, alice, **{CODE_CONFIRMED_AT: int(time.time())}))
    assert allowed.content == b"done"


def test_a_get_comes_back_to_the_same_page(rf, alice):
    view = sudo_required(lambda request: HttpResponse("done"))
    response = view(_request(rf, alice, method="get"))
    assert "next=%2Fxpm%2Fdisconnect%2F" in response["Location"]


# --- The confirmation dialogs --------------------------------------------------------------------


def test_the_edit_page_names_each_consequence_in_a_dialog(alice_client, firm_a):
    sam = make_user(firm_a, "sam@alpha.example.com", first_name="Sam", last_name="Lee")
    make_device(sam)
    page = alice_client.get(f"/accounts/users/{sam.pk}/").content.decode()
    assert (
        "Sam Lee will have to set up MFA again at their next login; their sessions end now." in page
    )
    assert "Sam Lee is removed from your firm for good" in page
    assert "Sam Lee is logged out everywhere now and can’t log in" in page
    assert "Sam Lee will be able to manage users and clients" in page
    assert 'data-opens="reset-mfa-dialog"' in page
    assert 'data-consequence="deactivate-dialog"' in page
    assert "js/dialogs.js" in page


def test_without_javascript_the_plain_forms_still_post(sudo_alice_client, bob):
    # The buttons that open dialogs are ordinary submit buttons of ordinary forms.
    page = sudo_alice_client.get(f"/accounts/users/{bob.pk}/").content.decode()
    assert f'<form method="post" action="/accounts/users/{bob.pk}/delete/">' in page
    assert sudo_alice_client.post(f"/accounts/users/{bob.pk}/delete/").status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()
