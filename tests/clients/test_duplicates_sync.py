"""Possible duplicates and the sync: found after a run, reported in its summary, decisions and
merged clients' portal-only contacts kept by later runs."""

import pytest
from django.core import mail

from clients.merge import dismiss_pair, merge_pair
from clients.models import Client, ClientContact, DuplicatePair
from tests.factories import add_contact, make_client
from tests.xpmsync.conftest import xero  # noqa: F401 (the fixture faking Xero's HTTP)
from tests.xpmsync.factories import make_connection
from tests.xpmsync.test_sync import run, serve
from xpmsync.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(firm_a, alice, xero):  # noqa: F811
    make_connection(firm_a, alice)
    return xero


@pytest.fixture
def harbourline(firm_a):
    """Harbourline, typed in by hand before the firm connected, with a contact XPM lacks."""
    client = make_client(firm_a, "Harbourline Logistics", email="ACCOUNTS@harbourline.example.com")
    add_contact(client, "Jo Portal", email="jo@harbourline.example.com")
    return client


def test_the_first_sync_finds_the_pair_and_its_summary_says_so(
    connected, firm_a, alice, harbourline
):
    serve(connected)
    result = run(firm_a, alice, SyncRun.Trigger.FIRST)
    assert result.counts["possible_duplicates"] == 1
    pair = DuplicatePair.objects.get()
    assert (pair.client, pair.xpm_client.name, pair.confidence) == (
        harbourline,
        "Harbourline Logistics Pty Ltd",
        "same",
    )
    body = mail.outbox[-1].body
    assert (
        "Possible duplicates: 1 client added by hand or by CSV looks like clients from XPM" in body
    )
    assert "https://portal.example.com/clients/duplicates/" in body
    assert "Data to fix in XPM:" in body and "Clients without an email address: 1" in body
    assert "https://portal.example.com/clients/data-to-fix/" in body


def test_a_later_sync_keeps_a_merged_client_s_portal_only_contact(
    connected, firm_a, alice, harbourline
):
    serve(connected)
    run(firm_a, alice, SyncRun.Trigger.FIRST)
    merge_pair(DuplicatePair.objects.get(), by=alice)
    merged = Client.objects.get(pk=harbourline.pk)
    before = set(
        ClientContact.objects.filter(client=merged).values_list("contact__name", flat=True)
    )
    assert "Jo Portal" in before and len(before) == 4  # XPM has three

    serve(connected)
    again = run(firm_a, alice)
    assert again.status == "succeeded", again.error
    links = ClientContact.objects.filter(client=merged).select_related("contact")
    assert {link.contact.name for link in links} == before
    assert again.counts["contacts_unlinked"] == 0
    assert [link.contact.name for link in links if link.is_primary] == ["Robert Tennant"]
    assert Client.objects.filter(firm=firm_a, name__startswith="Harbourline").count() == 1
    assert not DuplicatePair.objects.exists()


def test_not_the_same_stays_decided_across_syncs(connected, firm_a, alice, harbourline):
    serve(connected)
    run(firm_a, alice, SyncRun.Trigger.FIRST)
    dismiss_pair(DuplicatePair.objects.get(), by=alice)
    serve(connected)
    again = run(firm_a, alice)
    assert again.counts["possible_duplicates"] == 0
    assert not DuplicatePair.objects.exists()
