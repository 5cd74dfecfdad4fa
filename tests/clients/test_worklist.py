"""Data to fix in XPM: each group counted and filterable, computed live, staff read, admins act."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from clients import worklist
from clients.models import Client
from tests.factories import add_contact, make_client

pytestmark = pytest.mark.django_db


def synced(firm, name, **fields):
    fields.setdefault("email", f"{uuid.uuid4().hex[:6]}@example.com")
    return make_client(firm, name, xpm_uuid=uuid.uuid4(), source="xpm", **fields)


@pytest.fixture
def practice(firm_a, firm_b):
    no_email = synced(firm_a, "Coastal Holdings", email="")
    add_contact(
        no_email, "Ana Lee", email="ana@example.com", xpm_uuid=uuid.uuid4(), is_xpm_primary=True
    )
    synced(firm_a, "Wattle Motors")  # no contacts
    by_rule = synced(firm_a, "Summit Physio")
    add_contact(by_rule, "Ben Ng", email="", xpm_uuid=uuid.uuid4())  # no email, not flagged
    old = synced(firm_a, "Ironbark Joinery", is_prospect=True)
    add_contact(old, "Cy Roe", email="cy@example.com", xpm_uuid=uuid.uuid4(), is_xpm_primary=True)
    Client.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    make_client(firm_a, "Hand Made", email="")  # not from XPM: not XPM's to fix
    synced(firm_a, "Gone Ltd", email="", is_archived=True)  # archived: not listed
    synced(firm_b, "Bravo's Client", email="")
    return {"no_email": no_email, "by_rule": by_rule, "old": old}


def test_each_group_counts_its_synced_current_rows(practice, firm_a):
    assert worklist.counts(firm_a) == {
        "no_email": 1,
        "no_contacts": 1,
        "primary_by_rule": 1,
        "contact_no_email": 1,
        "old_prospects": 1,
    }


def test_a_row_leaves_by_itself_once_xpm_s_data_is_fixed(practice, firm_a):
    Client.objects.filter(pk=practice["no_email"].pk).update(email="fixed@example.com")
    practice["by_rule"].links.update(is_xpm_primary=True)
    assert worklist.counts(firm_a)["no_email"] == 0
    assert worklist.counts(firm_a)["primary_by_rule"] == 0


def test_bob_sees_the_list_and_a_group_filters_it(practice, bob_client, alice):
    page = bob_client.get("/clients/data-to-fix/?group=contact_no_email").content.decode()
    assert "Ben Ng" in page and "Summit Physio" in page and "Coastal Holdings" not in page
    assert "Ask your admin (Alice Example)" in page and "Sync Now" not in page
    page = bob_client.get("/clients/data-to-fix/?group=old_prospects").content.decode()
    assert "Ironbark Joinery" in page and "Ben Ng" not in page


def test_alice_may_sync_from_the_list(practice, client, firm_a, alice):
    from tests.totp import sign_in
    from xpmsync.models import XpmConnection

    XpmConnection.objects.create(firm=firm_a, status="active", tenant_id="t", connected_by=alice)
    page = sign_in(client, alice).get("/clients/data-to-fix/").content.decode()
    assert "Coastal Holdings" in page and "Sync Now" in page


def test_carol_sees_only_her_firm_s_rows(practice, carol_client):
    page = carol_client.get("/clients/data-to-fix/?group=no_email").content.decode()
    assert "Bravo&#x27;s Client" in page and "Coastal Holdings" not in page


def test_the_page_has_a_fixed_query_count(practice, bob_client, firm_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = "/clients/data-to-fix/?group=contact_no_email"
    bob_client.get(url)  # the session's first request does more
    with CaptureQueriesContext(connection) as one_row:
        bob_client.get(url)
    for n in range(5):
        client = synced(firm_a, f"Riverside {n}")
        add_contact(client, f"Dee {n}", email="", xpm_uuid=uuid.uuid4())
    with CaptureQueriesContext(connection) as six_rows:
        assert bob_client.get(url).content.decode().count("Dee ") == 5
    assert len(six_rows) == len(one_row)
