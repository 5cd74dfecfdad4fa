"""A client's History tab: edits in the portal, CSV imports and syncs on one timeline, kept for
the retention period."""

from datetime import timedelta

from django.utils import timezone

from clients import history
from clients.models import Change, Client
from tests.factories import add_contact, make_client


def test_an_edit_in_the_portal_goes_on_the_timeline_with_who_made_it(alice_client, alice, firm_a):
    record = make_client(firm_a, "Harbour Dental", email="old@harbour.example.com")
    alice_client.post(
        f"/clients/{record.pk}/edit/",
        {
            "name": "Harbour Dental Group",
            "kind": "organisation",
            "email": "new@harbour.example.com",
        },
    )
    change = Change.objects.get(client=record)
    assert (change.action, change.source, change.actor) == ("updated", "manual", alice)
    assert change.changes == {
        "name": ["Harbour Dental", "Harbour Dental Group"],
        "email": ["old@harbour.example.com", "new@harbour.example.com"],
    }
    page = alice_client.get(f"/clients/{record.pk}/history/").content.decode()
    assert "Email: old@harbour.example.com → new@harbour.example.com" in page
    assert "by Alice Example" in page


def test_a_save_that_changes_nothing_adds_nothing(alice_client, firm_a):
    record = make_client(firm_a, "Quiet Ltd", email="q@quiet.example.com")
    alice_client.post(
        f"/clients/{record.pk}/edit/",
        {"name": "Quiet Ltd", "kind": record.kind, "email": "q@quiet.example.com"},
    )
    assert not Change.objects.filter(client=record).exists()


def test_adding_and_archiving_by_hand_are_on_the_timeline(alice_client, alice, firm_a):
    alice_client.post("/clients/add/", {"name": "New Co", "kind": "organisation", "email": ""})
    record = Client.objects.get(name="New Co")
    alice_client.post(f"/clients/{record.pk}/archive/")
    assert list(Change.objects.filter(client=record).values_list("action", flat=True)) == [
        "archived",
        "created",
    ]


def test_a_csv_import_puts_its_clients_and_contacts_on_the_timeline(bob_client, bob, firm_a):
    from io import BytesIO

    data = (
        b"Client Name,First Name,Last Name,Client Email\n"
        b"Kowhai Cafe,Mere,Tane,mere@kowhai.example.com\n"
    )
    upload = BytesIO(data)
    upload.name = "clients.csv"
    preview = bob_client.post("/clients/import/", {"file": upload})
    page = bob_client.get(preview["Location"])
    plan = page.context["plan"].fingerprint
    bob_client.post(preview["Location"] + "confirm/", {"plan": plan})
    record = Client.objects.get(name="Kowhai Cafe")
    entries = history.timeline(record)
    assert {(e.action, e.subject) for e in entries} == {
        ("Added", "Client"),
        ("Added", "Contact Mere Tane"),
    }
    assert all(e.by == "CSV import by Bob Example" for e in entries)


def test_a_contacts_change_shows_on_each_of_its_clients(firm_a):
    from clients.models import ClientContact

    first, second = make_client(firm_a, "First Ltd"), make_client(firm_a, "Second Ltd")
    shared = add_contact(first, "Jo Smith")
    ClientContact.objects.create(firm=firm_a, client=second, contact=shared)
    Change.objects.create(
        firm=firm_a, contact=shared, action="updated", source="xpm", changes={"email": ["", "j@x"]}
    )
    for record in (first, second):
        (entry,) = history.timeline(record)
        assert entry.subject == "Contact Jo Smith" and entry.lines == ["Email: (empty) → j@x"]


def test_carol_cannot_read_alices_client_history(carol_client, firm_a):
    record = make_client(firm_a, "Private Ltd")
    assert carol_client.get(f"/clients/{record.pk}/history/").status_code == 404


def test_entries_older_than_the_retention_period_are_pruned(firm_a, settings):
    settings.TIMELINE_RETENTION_DAYS = 730
    record = make_client(firm_a, "Old Ltd")
    old = Change.objects.create(firm=firm_a, client=record, action="created", source="manual")
    Change.objects.filter(pk=old.pk).update(changed_at=timezone.now() - timedelta(days=731))
    kept = Change.objects.create(firm=firm_a, client=record, action="archived", source="manual")
    from clients.tasks import prune_timeline

    assert prune_timeline() == 1
    assert list(Change.objects.all()) == [kept]
