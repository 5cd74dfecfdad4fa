"""Tenant isolation and roles, across every URL of the project."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.middleware import ENROL_ALLOWED, VERIFY_ALLOWED
from accounts.models import User, UserSession
from clients.models import Client, ClientImport
from tests.passkeys import make_passkey
from tests.totp import make_device
from xpmsync.models import SyncRun

# URLs anyone may open without logging in.
PUBLIC_URL_NAMES = {
    "accounts:login",
    "accounts:password-reset",
    "accounts:password-reset-done",
    "accounts:password-reset-confirm",
    "accounts:password-reset-complete",
    "accounts:invitation-accept",
    "help",
}
# Pages for firm admins only: firm users get 403.
ADMIN_URL_NAMES = {
    "accounts:user-list",
    "accounts:user-add",
    "accounts:user-edit",
    "accounts:user-delete",
    "accounts:audit-log",
    "accounts:user-reset-mfa",
    "accounts:user-sessions-end",
    "accounts:mfa-policy",
    "accounts:mfa-reminders-send",
    "clients:manage-clients",
    "clients:client-archive",
    "clients:client-delete",
    "clients:duplicate-list",
    "clients:duplicate-refresh",
    "clients:duplicate-merge-all",
    "clients:duplicate-merge",
    "clients:duplicate-dismiss",
    "clients:merge-undo",
    "xpmsync:panel",
    "xpmsync:connect",
    "xpmsync:choose",
    "xpmsync:disconnect",
    "xpmsync:held-apply",
    "xpmsync:held-keep",
    "xpmsync:quick-syncs",
    "xpmsync:run-detail",
}


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in ("admin", "xpm_sandbox"):
                # The Django admin has its own tests; the sandbox stands in for Xero's servers.
                continue
            ns = entry.namespace or namespace
            yield from _walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern)


def _concrete(route: str, pk: int) -> str:
    path = route.replace("<int:pk>", str(pk))
    path = path.replace("<uidb64>", "MQ").replace("<token>", "set-password")
    assert "<" not in path, f"unhandled converter in {route}"
    return "/" + path


ALL_URLS = sorted(_walk(get_resolver()))


def test_every_url_is_classified():
    names = {name for name, _ in ALL_URLS}
    assert names >= PUBLIC_URL_NAMES
    assert names >= ADMIN_URL_NAMES


@pytest.mark.parametrize("name,route", [u for u in ALL_URLS if u[0] not in PUBLIC_URL_NAMES])
def test_every_private_url_needs_a_login(client, db, name, route):
    for method in ("get", "post"):
        response = getattr(client, method)(_concrete(route, 1))
        if name == "home":
            assert response.status_code == 302
            continue
        assert response.status_code in (302, 405), f"{method} {name}"
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), name


@pytest.mark.parametrize("name,route", [u for u in ALL_URLS if u[0] in ADMIN_URL_NAMES])
def test_bob_gets_403_on_every_admin_page(bob_client, bob, name, route):
    for method in ("get", "post"):
        response = getattr(bob_client, method)(_concrete(route, bob.pk))
        assert response.status_code in (403, 405), f"{method} {name}"
    assert User.objects.filter(pk=bob.pk, role=User.Role.USER).exists()


def _alice_objects(alice, bob, record):
    client_import = ClientImport.objects.create(firm=alice.firm, created_by=alice, filename="a.csv")
    objects = {
        "accounts:user-edit": bob.pk,
        "accounts:user-delete": bob.pk,
        "accounts:user-reset-mfa": bob.pk,
        "accounts:user-sessions-end": bob.pk,
        "accounts:user-resend-invitation": bob.pk,
        "accounts:session-end": UserSession.objects.create(user=bob, session_key="b" * 32).pk,
        "accounts:passkey-name": make_passkey(bob).pk,
        "accounts:passkey-remove": make_passkey(bob).pk,
    }
    objects["xpmsync:run-detail"] = SyncRun.objects.create(firm=alice.firm, trigger="manual").pk
    for name in ("detail", "contacts", "history", "edit", "archive", "delete", "email"):
        objects[f"clients:client-{name}"] = record.pk
    for name in ("import-preview", "import-confirm", "import-summary"):
        objects[f"clients:{name}"] = client_import.pk
    objects.update(_alice_duplicates(alice, record))
    return objects


def _alice_duplicates(alice, record):
    """A possible duplicate and a merge in alice's firm (the record is the portal's side)."""
    from clients.models import ClientMerge, DuplicatePair

    twin = Client.objects.create(firm=alice.firm, name="Twin", source="xpm", xpm_uuid=uuid.uuid4())
    pair = DuplicatePair.objects.create(
        firm=alice.firm, client=record, xpm_client=twin, confidence="same"
    )
    merge = ClientMerge.objects.create(firm=alice.firm, client=twin, client_name="x")
    return {
        "clients:duplicate-merge": pair.pk,
        "clients:duplicate-dismiss": pair.pk,
        "clients:merge-undo": merge.pk,
    }


@pytest.mark.parametrize("name,route", [u for u in ALL_URLS if "<int:pk>" in u[1]])
def test_carol_gets_404_for_every_object_of_alices_firm(
    carol_client, alice, bob, alice_firm_client_record, name, route
):
    pk = _alice_objects(alice, bob, alice_firm_client_record)[name]
    for method in ("get", "post", "put", "delete"):
        response = getattr(carol_client, method)(_concrete(route, pk))
        assert response.status_code in (404, 405), f"{method} {name}"
    assert User.objects.filter(pk=bob.pk, is_active=True).exists()
    record = Client.objects.get(pk=alice_firm_client_record.pk)
    assert not record.is_archived
    assert ClientImport.objects.filter(status="previewed").exists()


PRIVATE_URLS = [u for u in ALL_URLS if u[0] not in PUBLIC_URL_NAMES]


@pytest.mark.parametrize("name,route", [u for u in PRIVATE_URLS if u[0] not in ENROL_ALLOWED])
def test_firm_policy_confines_a_user_without_mfa_to_configure_mfa(
    bob_client, bob, firm_a, alice_firm_client_record, name, route
):
    bob_client.get("/clients/")  # the session begins before the firm requires MFA
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    for method in ("get", "post"):
        response = getattr(bob_client, method)(_concrete(route, bob.pk))
        assert response.status_code == 302, f"{method} {name}"
        assert response["Location"].startswith("/accounts/settings/mfa/"), f"{method} {name}"


@pytest.mark.parametrize("name,route", [u for u in PRIVATE_URLS if u[0] in ENROL_ALLOWED])
def test_the_enrolment_allow_list_stays_reachable(bob_client, firm_a, name, route):
    firm_a.is_mfa_required_by_admin = True
    firm_a.save()
    response = bob_client.get(_concrete(route, 1))
    assert response.status_code in (200, 405), name


@pytest.mark.parametrize("name,route", [u for u in PRIVATE_URLS if u[0] not in VERIFY_ALLOWED])
def test_an_unverified_session_of_a_user_with_mfa_reaches_only_the_code_page(
    alice_client, alice, name, route
):
    make_device(alice)
    for method in ("get", "post"):
        response = getattr(alice_client, method)(_concrete(route, alice.pk))
        assert response.status_code == 302, f"{method} {name}"
        assert response["Location"].startswith("/accounts/login/code/"), f"{method} {name}"


def test_a_platform_operator_without_a_firm_cannot_open_firm_pages(operator_client):
    assert operator_client.get("/clients/").status_code == 403


def test_django_admin_login_goes_through_the_portal_login(client, db):
    response = client.get("/platform-admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_operator_reaches_the_django_admin(operator_client):
    assert operator_client.get("/platform-admin/accounts/firm/").status_code == 200


# Views that change state: they answer GET with 405 (CSRF protects their POST).
STATE_CHANGING_URL_NAMES = {
    "accounts:logout",
    "accounts:email-change",
    "accounts:mfa-backup-codes",
    "accounts:mfa-disable",
    "accounts:passkey-remove",
    "accounts:mfa-reminders-send",
    "accounts:passkey-register-begin",
    "accounts:passkey-register-complete",
    "accounts:passkey-auth-begin",
    "accounts:passkey-auth-complete",
    "accounts:user-delete",
    "accounts:user-reset-mfa",
    "accounts:user-sessions-end",
    "accounts:session-end",
    "accounts:session-end-others",
    "accounts:mfa-policy",
    "clients:client-archive",
    "clients:client-delete",
    "clients:import-confirm",
    "clients:duplicate-refresh",
    "clients:duplicate-merge-all",
    "clients:duplicate-merge",
    "clients:duplicate-dismiss",
    "clients:merge-undo",
    "xpmsync:connect",
    "xpmsync:choose",
    "xpmsync:disconnect",
    "xpmsync:sync-now",
    "xpmsync:held-apply",
    "xpmsync:held-keep",
    "xpmsync:quick-syncs",
}


@pytest.mark.parametrize("name,route", [u for u in ALL_URLS if u[0] in STATE_CHANGING_URL_NAMES])
def test_state_changing_urls_refuse_get(
    verified, alice, bob, alice_firm_client_record, name, route
):
    alice_client = verified(alice)
    pk = _alice_objects(alice, bob, alice_firm_client_record).get(name, bob.pk)
    response = alice_client.get(_concrete(route, pk))
    assert response.status_code == 405, name
    assert User.objects.filter(pk=bob.pk, is_active=True).exists()
    assert Client.objects.filter(pk=alice_firm_client_record.pk, is_archived=False).exists()


def test_every_state_changing_url_exists():
    assert {name for name, _ in ALL_URLS} >= STATE_CHANGING_URL_NAMES


def test_post_without_a_csrf_token_is_refused(alice, bob):
    from django.test import Client as HttpClient

    strict = HttpClient(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(f"/accounts/users/{bob.pk}/delete/")
    assert response.status_code == 403
    assert User.objects.filter(pk=bob.pk).exists()
