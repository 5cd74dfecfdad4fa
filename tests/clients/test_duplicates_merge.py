"""Merging a portal client with its XPM twin, undoing it, and the Possible duplicates page."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from clients.duplicates import refresh_duplicates
from clients.merge import CannotMerge, CannotUndo, merge_all_same, merge_pair, undo_merge
from clients.models import Client, ClientContact, ClientMerge, Contact, DuplicatePair
from tests.factories import PASSWORD, add_contact, make_client

pytestmark = pytest.mark.django_db


def xpm_client(firm, name, **fields):
    return make_client(firm, name, xpm_uuid=uuid.uuid4(), source="xpm", **fields)


@pytest.fixture
def twins(firm_a):
    """A CSV client and XPM's same client: one contact in both (by email), one each."""
    theirs = xpm_client(
        firm_a, "Aroha Bakery Ltd", email="hello@aroha.example.com", phone="(09) 555 0101"
    )
    add_contact(theirs, "Mere Parata", email="mere@aroha.example.com", xpm_uuid=uuid.uuid4())
    add_contact(theirs, "Tama Parata", email="", xpm_uuid=uuid.uuid4(), is_xpm_primary=True)
    mine = make_client(firm_a, "Aroha Bakery", email="hello@aroha.example.com", source="csv")
    add_contact(mine, "Mere Parata-Smith", email="MERE@aroha.example.com")  # XPM has her
    add_contact(mine, "Jo Bloggs", email="jo@aroha.example.com")  # only the portal has Jo
    refresh_duplicates(firm_a)
    return mine, theirs, DuplicatePair.objects.get()


def test_merging_keeps_the_portal_s_key_with_xpm_s_uuid_and_values(twins, alice):
    mine, theirs, pair = twins
    merge_pair(pair, by=alice)
    merged = Client.objects.get(pk=mine.pk)
    assert (merged.xpm_uuid, merged.name, merged.phone, merged.source) == (
        theirs.xpm_uuid,
        "Aroha Bakery Ltd",
        "(09) 555 0101",
        "xpm",
    )
    assert not Client.objects.filter(pk=theirs.pk).exists()
    assert not DuplicatePair.objects.exists()


def test_merging_joins_contacts_by_email_and_keeps_the_portal_s_own(twins, alice):
    mine, _theirs, pair = twins
    merge_pair(pair, by=alice)
    links = {link.contact.name: link for link in ClientContact.objects.filter(client_id=mine.pk)}
    assert set(links) == {"Mere Parata", "Tama Parata", "Jo Bloggs"}
    assert not Contact.objects.filter(name="Mere Parata-Smith").exists()
    assert links["Jo Bloggs"].is_portal_only and not links["Mere Parata"].is_portal_only
    assert [name for name, link in links.items() if link.is_primary] == ["Tama Parata"]


def test_a_merge_is_audited_with_both_sides(twins, alice):
    pair = twins[2]
    merge = merge_pair(pair, by=alice, ip="203.0.113.9")
    event = AuditEvent.objects.get(action=AuditEvent.Action.CLIENTS_MERGED)
    assert event.actor == alice and event.ip_address == "203.0.113.9"
    assert "“Aroha Bakery” (CSV import) merged with XPM’s “Aroha Bakery Ltd”" in event.detail
    assert "Name: Aroha Bakery → Aroha Bakery Ltd" in event.detail
    assert merge.snapshot["client"]["name"] == "Aroha Bakery"
    assert merge.snapshot["xpm_client"]["name"] == "Aroha Bakery Ltd"


def test_undo_splits_the_clients_back_with_their_own_contacts(twins, alice):
    mine, theirs, pair = twins
    merge = merge_pair(pair, by=alice)
    restored = undo_merge(merge, by=alice)
    mine.refresh_from_db()
    assert (mine.name, mine.xpm_uuid, mine.source) == ("Aroha Bakery", None, "csv")
    assert (restored.pk, restored.xpm_uuid, restored.name) == (
        theirs.pk,
        theirs.xpm_uuid,
        "Aroha Bakery Ltd",
    )
    mine_contacts = set(
        ClientContact.objects.filter(client=mine).values_list("contact__name", flat=True)
    )
    assert mine_contacts == {"Mere Parata-Smith", "Jo Bloggs"}
    theirs_contacts = set(
        ClientContact.objects.filter(client=restored).values_list("contact__name", flat=True)
    )
    assert theirs_contacts == {"Mere Parata", "Tama Parata"}
    assert ClientContact.objects.filter(client=mine, is_primary=True).count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CLIENT_MERGE_UNDONE).exists()
    assert DuplicatePair.objects.count() == 1  # proposed again, for a decision
    with pytest.raises(CannotUndo):
        undo_merge(merge, by=alice)


def test_a_merge_older_than_thirty_days_cannot_be_undone(twins, alice):
    merge = merge_pair(twins[2], by=alice)
    ClientMerge.objects.filter(pk=merge.pk).update(merged_at=timezone.now() - timedelta(days=31))
    merge.refresh_from_db()
    with pytest.raises(CannotUndo):
        undo_merge(merge, by=alice)


def test_merge_all_merges_each_client_once_and_only_the_confirmed_count(firm_a, alice):
    for n in range(3):
        xpm_client(firm_a, f"Summit Motors {n}", email=f"s{n}@summit.example.com")
        make_client(firm_a, f"Summit Motors {n} Ltd", email=f"s{n}@summit.example.com")
    make_client(firm_a, "Summit Motors 0 Limited", email="s0@summit.example.com")  # 2nd twin
    xpm_client(firm_a, "Greenfield Dental")
    make_client(firm_a, "Greenfeld Dental")  # only likely: left alone
    refresh_duplicates(firm_a)
    assert DuplicatePair.objects.filter(confidence="same").count() == 4
    with pytest.raises(CannotMerge):
        merge_all_same(firm_a, by=alice, expected=3)
    assert merge_all_same(firm_a, by=alice, expected=4) == 3
    assert ClientMerge.objects.count() == 3
    assert Client.objects.filter(name__startswith="Summit", xpm_uuid__isnull=True).count() == 1
    assert DuplicatePair.objects.filter(client__name="Greenfeld Dental").exists()


# --- The page --------------------------------------------------------------------------------


def in_sudo(http):
    assert http.post("/accounts/confirm/", {"password": PASSWORD}).status_code == 302
    return http


def test_alice_sees_the_pair_side_by_side(twins, alice_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        page = alice_client.get("/clients/duplicates/").content.decode()
    assert "Same client" in page and "Aroha Bakery Ltd" in page and "Jo Bloggs" in page
    assert "Merge all “same” pairs (1)" in page and "Differs: Name" in page


def test_bob_gets_403_and_carol_404(twins, bob_client, carol_client):
    pair = twins[2]
    assert bob_client.get("/clients/duplicates/").status_code == 403
    assert bob_client.post(f"/clients/duplicates/{pair.pk}/merge/").status_code == 403
    assert in_sudo(carol_client).post(f"/clients/duplicates/{pair.pk}/merge/").status_code == 404
    assert carol_client.post(f"/clients/duplicates/{pair.pk}/not-the-same/").status_code == 404
    assert carol_client.get("/clients/duplicates/").content.count(b"Aroha") == 0
    assert DuplicatePair.objects.filter(pk=pair.pk).exists()


def test_merging_from_the_page_needs_sudo_mode(twins, alice_client):
    mine, _theirs, pair = twins
    response = alice_client.post(f"/clients/duplicates/{pair.pk}/merge/")
    assert response.status_code == 302 and "/accounts/confirm/" in response["Location"]
    assert Client.objects.get(pk=mine.pk).xpm_uuid is None
    in_sudo(alice_client).post(f"/clients/duplicates/{pair.pk}/merge/")
    assert Client.objects.get(pk=mine.pk).xpm_uuid is not None
    merge = ClientMerge.objects.get()
    in_sudo(alice_client).post(f"/clients/merges/{merge.pk}/undo/")
    assert Client.objects.get(pk=mine.pk).xpm_uuid is None


def test_merge_all_from_the_page_names_the_count(twins, alice_client):
    page = alice_client.get("/clients/duplicates/").content.decode()
    assert "Merge 1 pair?" in page
    in_sudo(alice_client).post("/clients/duplicates/merge-same/", {"count": "1"})
    assert ClientMerge.objects.count() == 1


def test_not_the_same_from_the_page_is_remembered(twins, alice_client):
    pair = twins[2]
    alice_client.post(f"/clients/duplicates/{pair.pk}/not-the-same/")
    assert not DuplicatePair.objects.exists()
    alice_client.post("/clients/duplicates/look-again/")
    assert not DuplicatePair.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DUPLICATE_DISMISSED).exists()


def test_manage_clients_links_to_the_review_with_the_count(twins, alice_client):
    page = alice_client.get("/clients/manage/").content.decode()
    assert "1 possible duplicate:" in page and 'href="/clients/duplicates/"' in page
