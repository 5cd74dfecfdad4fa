"""Instructions that depend on role: staff are never sent to Sync Now, which they cannot reach."""

from clients.models import Client
from tests.factories import add_contact, make_client
from tests.xpmsync.factories import make_connection


def _main(page: bytes) -> str:
    # The menu links to Manage Clients for admins; only the page's own text matters here.
    return page.decode().split("<main", 1)[1]


def test_staff_reading_a_synced_profile_are_told_whom_to_ask(verified, alice, bob, firm_a):
    make_connection(firm_a, alice)
    client = make_client(firm_a, "Harbourline", source=Client.Source.XPM)
    add_contact(client, "Zed Last")
    add_contact(client, "Amy First")
    bob_client = verified(bob)
    for path in (f"/clients/{client.pk}/", f"/clients/{client.pk}/contacts/"):
        page = _main(bob_client.get(path).content)
        assert "ask your admin (Alice Example) to press Sync Now" in page
        assert "Sync Now in Manage Clients" not in page


def test_admins_reading_a_synced_profile_are_told_to_press_sync_now(verified, alice, firm_a):
    make_connection(firm_a, alice)
    client = make_client(firm_a, "Harbourline", source=Client.Source.XPM)
    add_contact(client, "Amy First")
    page = _main(verified(alice).get(f"/clients/{client.pk}/contacts/").content)
    assert "flag the primary contact in XPM. Then press Sync Now in Manage Clients" in page
    assert "ask your admin" not in page


def test_staff_adding_a_client_while_connected_are_told_whom_to_ask(verified, alice, bob, firm_a):
    make_connection(firm_a, alice)
    page = _main(verified(bob).get("/clients/add/").content)
    assert "add new clients in XPM. The next scheduled sync brings the change here" in page
    assert "ask your admin (Alice Example) to press Sync Now" in page


def test_staff_with_no_clients_yet_are_told_which_admin_connects_xpm(bob_client, alice):
    page = _main(bob_client.get("/clients/").content)
    assert "To connect Xero Practice Manager, ask your admin (Alice Example)." in page


def test_a_firm_with_many_admins_says_a_firm_admin(bob_client, firm_a):
    from accounts.models import User
    from tests.factories import make_user

    for n in range(4):
        make_user(firm_a, f"admin{n}@alpha.example.com", role=User.Role.ADMIN)
    page = _main(bob_client.get("/clients/").content)
    assert "To connect Xero Practice Manager, ask a firm admin." in page
