"""No save undoes another's write: each test lets a view load its row, then makes the other write
(an admin's deactivation, role change or MFA reset; the user's new password) before the view
saves, and checks that the other write survived.

The other write happens from a hook inside the first request, after its row was loaded and before
it was saved: the interleaving that parallel requests hit in 2-5 of 30 tries, made certain.
"""

from django.test import Client

from accounts import mfa
from accounts.forms import NewPasswordForm, ProfileForm, ThrottledPasswordChangeForm, UserForm
from accounts.models import User
from accounts.users import invitation_url, update_user
from tests.factories import PASSWORD, make_user
from tests.totp import enrol, sign_in

NEW_PASSWORD = "a-brand-new-passphrase-42"


def run_during(monkeypatch, form_class, write):
    """Make ``write`` happen while ``form_class`` is validated, before its view saves."""
    original = form_class.clean

    def clean(self):
        cleaned = original(self)
        write()
        return cleaned

    monkeypatch.setattr(form_class, "clean", clean)


def deactivate(user, by):
    return lambda: update_user(_copy(user, is_active=False), by=by, changed=["is_active"], ip=None)


def make_staff(user, by):
    return lambda: update_user(_copy(user, role=User.Role.USER), by=by, changed=["role"])


def _copy(user, **changes):
    fresh = User.objects.get(pk=user.pk)
    for name, value in changes.items():
        setattr(fresh, name, value)
    return fresh


def save_profile(http):
    return http.post(
        "/accounts/settings/",
        {"first_name": "Bobby", "last_name": "Example", "greeting": "Hi", "sign_off": "Cheers"},
    )


def test_a_profile_save_cannot_reactivate_a_user_an_admin_deactivated(
    monkeypatch, bob_client, bob, alice
):
    run_during(monkeypatch, ProfileForm, deactivate(bob, by=alice))
    save_profile(bob_client)
    bob.refresh_from_db()
    assert bob.is_active is False
    assert bob.first_name == "Bobby"
    # And the deactivated user's session has stopped working.
    assert bob_client.get("/accounts/settings/").status_code == 302


def test_a_profile_save_cannot_undo_a_role_change(monkeypatch, firm_a, alice):
    other_admin = make_user(firm_a, "olive@alpha.example.com", role=User.Role.ADMIN)
    http = Client()
    http.force_login(other_admin)
    run_during(monkeypatch, ProfileForm, make_staff(other_admin, by=alice))
    save_profile(http)
    other_admin.refresh_from_db()
    assert other_admin.role == User.Role.USER


def signed_in_with_mfa(user):
    device, _codes = enrol(user)
    return sign_in(Client(), user, device, steps=1)


def test_a_profile_save_cannot_undo_an_mfa_reset(monkeypatch, bob, alice):
    bob_client = signed_in_with_mfa(bob)
    bob.refresh_from_db()
    generation = bob.session_generation
    run_during(monkeypatch, ProfileForm, lambda: mfa.reset(_copy(bob), by=alice))
    save_profile(bob_client)
    bob.refresh_from_db()
    assert bob.must_enrol_mfa is True
    assert bob.session_generation == generation + 1
    assert not mfa.has_mfa(bob)
    assert bob_client.get("/accounts/settings/").status_code == 302  # the old session ended


def test_a_password_change_cannot_reactivate_a_user_an_admin_deactivated(
    monkeypatch, bob_client, bob, alice
):
    run_during(monkeypatch, ThrottledPasswordChangeForm, deactivate(bob, by=alice))
    bob_client.post(
        "/accounts/settings/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    bob.refresh_from_db()
    assert bob.is_active is False
    assert bob.check_password(NEW_PASSWORD)


def test_a_password_change_cannot_undo_an_mfa_reset(monkeypatch, bob, alice):
    bob_client = signed_in_with_mfa(bob)
    run_during(monkeypatch, ThrottledPasswordChangeForm, lambda: mfa.reset(_copy(bob), by=alice))
    bob_client.post(
        "/accounts/settings/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    bob.refresh_from_db()
    assert bob.must_enrol_mfa is True


def test_a_set_password_link_cannot_reactivate_a_user_an_admin_deactivated(
    monkeypatch, client, bob, alice
):
    path = invitation_url(bob).removeprefix("https://portal.example.com")
    form_url = client.get(path)["Location"]
    run_during(monkeypatch, NewPasswordForm, deactivate(bob, by=alice))
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    bob.refresh_from_db()
    assert bob.is_active is False
    assert bob.check_password(NEW_PASSWORD)


def test_an_admins_edit_cannot_undo_the_users_new_password(monkeypatch, alice_client, bob):
    def bob_changes_his_password():
        stale = _copy(bob)
        stale.set_password(NEW_PASSWORD)
        stale.save(update_fields=["password"])

    run_during(monkeypatch, UserForm, bob_changes_his_password)
    alice_client.post(
        f"/accounts/users/{bob.pk}/",
        {
            "first_name": "Robert",
            "last_name": "Example",
            "email": bob.email,
            "role": "user",
            "is_active": "on",
        },
    )
    bob.refresh_from_db()
    assert bob.first_name == "Robert"
    assert bob.check_password(NEW_PASSWORD)


def test_an_admins_edit_cannot_undo_another_admins_mfa_reset(monkeypatch, alice_client, alice, bob):
    enrol(bob)
    bob.refresh_from_db()
    generation = bob.session_generation
    run_during(monkeypatch, UserForm, lambda: mfa.reset(_copy(bob), by=alice))
    alice_client.post(
        f"/accounts/users/{bob.pk}/",
        {
            "first_name": "Robert",
            "last_name": "Example",
            "email": bob.email,
            "role": "user",
            "is_active": "on",
        },
    )
    bob.refresh_from_db()
    assert bob.first_name == "Robert"
    assert bob.must_enrol_mfa is True
    assert bob.session_generation == generation + 1


def test_two_session_endings_from_stale_rows_both_count(alice, bob):
    first, second = _copy(bob), _copy(bob)
    mfa.reset(first, by=alice)
    mfa.reset(second, by=alice)
    bob.refresh_from_db()
    assert bob.session_generation == 2
