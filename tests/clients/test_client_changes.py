from django.core import mail

from clients.models import Client, ClientContact, Contact
from tests.factories import add_contact, make_client
from tests.xpmsync.factories import make_connection

NEW_CLIENT = {
    "name": "Bright Spark Electrical",
    "kind": "organisation",
    "email": "hello@brightspark.example.com",
}


def test_bob_adds_a_client_by_hand(bob_client, firm_a):
    response = bob_client.post("/clients/add/", NEW_CLIENT)
    client = Client.objects.get(name="Bright Spark Electrical")
    assert response["Location"] == f"/clients/{client.pk}/"
    assert client.firm == firm_a and client.source == Client.Source.MANUAL


def test_a_possible_duplicate_is_shown_before_adding(bob_client, firm_a):
    make_client(firm_a, "bright spark electrical")
    warned = bob_client.post("/clients/add/", NEW_CLIENT)
    assert "Possible duplicate" in warned.content.decode()
    assert Client.objects.filter(firm=firm_a).count() == 1
    confirmed = bob_client.post("/clients/add/", {**NEW_CLIENT, "confirm_duplicate": "1"})
    assert confirmed.status_code == 302
    assert Client.objects.filter(firm=firm_a).count() == 2


def test_a_client_in_another_firm_is_not_a_duplicate(bob_client, firm_b):
    make_client(firm_b, "Bright Spark Electrical")
    assert bob_client.post("/clients/add/", NEW_CLIENT).status_code == 302


def test_manual_clients_are_editable(bob_client, firm_a):
    client = make_client(firm_a, "Old Name")
    response = bob_client.post(f"/clients/{client.pk}/edit/", {**NEW_CLIENT, "city": "Wollongong"})
    assert response.status_code == 302
    client.refresh_from_db()
    assert (client.name, client.city) == ("Bright Spark Electrical", "Wollongong")


def test_xpm_clients_are_read_only_while_connected(verified, bob, alice, firm_a):
    make_connection(firm_a, alice)
    bob_client = verified(bob)
    client = make_client(firm_a, "From XPM", source=Client.Source.XPM)
    page = bob_client.get(f"/clients/{client.pk}/").content.decode()
    assert "managed in Xero Practice Manager" in page
    assert f"/clients/{client.pk}/edit/" not in page
    assert bob_client.post(f"/clients/{client.pk}/edit/", NEW_CLIENT).status_code == 403
    client.refresh_from_db()
    assert client.name == "From XPM"


def test_xpm_clients_become_editable_after_a_disconnect(bob_client, firm_a):
    client = make_client(firm_a, "From XPM", source=Client.Source.XPM)
    page = bob_client.get(f"/clients/{client.pk}/").content.decode()
    assert f"/clients/{client.pk}/edit/" in page
    assert bob_client.post(f"/clients/{client.pk}/edit/", NEW_CLIENT).status_code == 302


def test_alice_archives_restores_and_deletes_a_manual_client(alice_client, firm_a):
    client = make_client(firm_a, "Old Mill Bakery")
    add_contact(client, "Gregor Hallstrom")
    alice_client.post(f"/clients/{client.pk}/archive/")
    client.refresh_from_db()
    assert client.is_archived
    alice_client.post(f"/clients/{client.pk}/archive/", {"archive": "no"})
    client.refresh_from_db()
    assert not client.is_archived
    assert alice_client.post(f"/clients/{client.pk}/delete/").status_code == 302
    assert not Client.objects.filter(pk=client.pk).exists()
    assert not ClientContact.objects.filter(client_id=client.pk).exists()


def test_xpm_clients_cannot_be_archived_or_deleted_by_hand(verified, alice, firm_a):
    make_connection(firm_a, alice)
    alice_client = verified(alice)
    client = make_client(firm_a, "From XPM", source=Client.Source.XPM)
    assert alice_client.post(f"/clients/{client.pk}/archive/").status_code == 403
    assert alice_client.post(f"/clients/{client.pk}/delete/").status_code == 403
    assert Client.objects.filter(pk=client.pk, is_archived=False).exists()


def test_email_goes_to_the_primary_contact_signed_with_the_senders_settings(
    bob_client, bob, firm_a
):
    bob.greeting, bob.sign_off, bob.email_signature = (
        "Hello",
        "Cheers",
        "Bob Builder\nAlpha Accounting",
    )
    bob.save()
    client = make_client(firm_a, "Harbourline", email="accounts@harbourline.example.com")
    add_contact(client, "Robert Tennant", salutation="Bob", email="rob@harbourline.example.com")
    page = bob_client.get(f"/clients/{client.pk}/email/").content.decode()
    assert "Hello Bob," in page and "Cheers" in page and "Alpha Accounting" in page
    response = bob_client.post(
        f"/clients/{client.pk}/email/",
        {"subject": "Your tax return", "message": "Hello Bob,\n\nDone.\n\nCheers"},
    )
    assert response.status_code == 302
    assert mail.outbox[0].to == ["rob@harbourline.example.com"]
    assert mail.outbox[0].reply_to == [bob.email]
    assert mail.outbox[0].subject == "Your tax return"


def test_email_falls_back_to_the_client_address(bob_client, firm_a):
    client = make_client(firm_a, "Harbourline", email="accounts@harbourline.example.com")
    add_contact(client, "Amelia Chen")
    bob_client.post(f"/clients/{client.pk}/email/", {"subject": "Hi", "message": "Hi"})
    assert mail.outbox[0].to == ["accounts@harbourline.example.com"]


def test_an_xpm_client_without_email_gets_an_error_naming_the_fix(verified, alice, firm_a):
    make_connection(firm_a, alice)
    client = make_client(firm_a, "Nguyễn & Müller Café", source=Client.Source.XPM)
    add_contact(client, "Nguyễn Thị Hương")
    page = verified(alice).get(f"/clients/{client.pk}/email/").content.decode()
    assert "has no email address" in page
    assert "in Xero Practice Manager. Then press Sync Now in Manage Clients" in page
    verified(alice).post(f"/clients/{client.pk}/email/", {"subject": "Hi", "message": "Hi"})
    assert mail.outbox == []


def test_a_manual_client_without_email_is_told_to_edit_the_client(bob_client, firm_a):
    client = make_client(firm_a, "No Address Ltd")
    page = bob_client.get(f"/clients/{client.pk}/email/").content.decode()
    assert "Edit the client to add one" in page
    assert Contact.objects.count() == 0


def test_adding_or_importing_while_connected_warns_about_xpm(verified, bob, alice, firm_a):
    bob_client = verified(bob)
    assert "is not in XPM" not in bob_client.get("/clients/add/").content.decode()
    assert "not</strong> added to XPM" not in bob_client.get("/clients/import/").content.decode()
    make_connection(firm_a, alice)
    assert "is not in XPM" in bob_client.get("/clients/add/").content.decode()
    assert "not</strong> added to XPM" in bob_client.get("/clients/import/").content.decode()


def test_deleting_a_client_asks_first_naming_what_goes(alice_client, firm_a):
    client = make_client(firm_a, "Old Mill Bakery")
    add_contact(client, "Gregor Hallstrom")
    add_contact(client, "Ilse Hallstrom")
    page = alice_client.get(f"/clients/{client.pk}/").content.decode()
    assert 'data-opens="delete-client-dialog"' in page
    assert '<dialog id="delete-client-dialog"' in page
    assert "js/dialogs.js" in page  # without it the button would delete at once
    assert "Old Mill Bakery and its 2 contacts are deleted from the portal for good" in page
    assert "archive it instead" in page


def test_deleting_a_client_removes_its_own_contacts_and_keeps_shared_ones(alice_client, firm_a):
    client = make_client(firm_a, "Old Mill Bakery")
    other = make_client(firm_a, "New Mill Cafe")
    only_here = add_contact(client, "Gregor Hallstrom")
    shared = add_contact(other, "Ilse Hallstrom")
    ClientContact.objects.create(firm=firm_a, client=client, contact=shared)
    response = alice_client.post(f"/clients/{client.pk}/delete/")
    assert response["Location"] == "/clients/"
    assert not Contact.objects.filter(pk=only_here.pk).exists()
    assert ClientContact.objects.filter(client=other, contact=shared).exists()


def test_bob_cannot_delete_a_client_and_carol_gets_404(bob_client, carol_client, firm_a):
    client = make_client(firm_a, "Old Mill Bakery")
    assert bob_client.post(f"/clients/{client.pk}/delete/").status_code == 403
    assert carol_client.post(f"/clients/{client.pk}/delete/").status_code == 404
    assert Client.objects.filter(pk=client.pk).exists()
