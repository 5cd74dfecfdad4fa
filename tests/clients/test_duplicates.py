"""Finding possible duplicates: normalised names, each confidence level, decisions remembered,
and never across firms. Runs on SQLite (the in-memory trigram index) and on PostgreSQL
(pg_trgm), which must find the same pairs."""

import random
import uuid

import pytest

from clients import duplicates
from clients.duplicates import (
    find_duplicates,
    name_key,
    phone_key,
    refresh_duplicates,
    similarity,
    trigrams,
)
from clients.models import DuplicateDismissal, DuplicatePair
from tests.factories import add_contact, make_client

pytestmark = pytest.mark.django_db


def xpm_client(firm, name, **fields):
    return make_client(firm, name, xpm_uuid=uuid.uuid4(), source="xpm", **fields)


def pairs(firm):
    return {
        (f.client_id, f.xpm_client_id): (f.confidence, f.reasons) for f in find_duplicates(firm)
    }


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Aroha Bakery Ltd", "aroha bakery"),
        ("AROHA BAKERY LIMITED", "aroha bakery"),
        ("Aroha Bakery Pty. Ltd.", "aroha bakery"),
        ("Aroha Bakery P/L", "aroha bakery"),
        ("Smith & Jones", "smith and jones"),
        ("Smith + Jones Pty Ltd", "smith and jones"),
        ("Café Crème", "cafe creme"),
        ("Nguyễn & Müller Café Pty Ltd", "nguyen and muller cafe"),
        ("O'Sullivan Plumbing", "osullivan plumbing"),
        ("O’Sullivan   Plumbing", "osullivan plumbing"),
        ("The Smith Family Trust", "smith family trust"),
        ("Kōwhai Holdings (NZ) Limited", "kowhai holdings nz"),
        ("Łukasz Kowalski", "lukasz kowalski"),  # Ł has no decomposition into L and a stroke
        ("Søren Ærø", "soren aero"),
        ("黃大仙 Trading", "黃大仙 trading"),  # letters without a Latin form are kept
        ("Limited", "limited"),  # a name made only of legal words keeps them
        ("The", "the"),
        ("  Blue-Gum   Joinery ", "blue gum joinery"),
        ("Straße Motors Inc.", "strasse motors"),
    ],
)
def test_names_are_compared_without_case_punctuation_accents_or_legal_forms(written, key):
    assert name_key(written) == key


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("(09) 123 4567", "+64 9 123 4567", True),
        ("0412 345 678", "+61 412 345 678", True),
        ("0412 345 678", "0412 345 679", False),
        ("123", "123", False),  # too short to say anything
    ],
)
def test_phones_are_compared_on_their_last_eight_digits(a, b, same):
    assert (phone_key(a) == phone_key(b) and phone_key(a) != "") is same


def test_trigram_similarity_is_pg_trgm_s():
    assert similarity(trigrams("aroha bakery"), trigrams("aroha bakery")) == 1
    # pg_trgm: SELECT similarity('word', 'two words') = 0.3636...
    assert round(similarity(trigrams("word"), trigrams("two words")), 4) == 0.3636


def test_same_name_and_same_email_is_the_same_client(firm_a):
    theirs = xpm_client(firm_a, "Aroha Bakery Ltd", email="hello@aroha.example.com")
    mine = make_client(firm_a, "aroha bakery", email="Hello@Aroha.example.com", source="csv")
    assert pairs(firm_a) == {(mine.pk, theirs.pk): ("same", ("Same name", "same email"))}


def test_same_name_and_same_phone_is_the_same_client(firm_a):
    theirs = xpm_client(firm_a, "Smith & Jones Pty Ltd", phone="+64 9 123 4567")
    mine = make_client(firm_a, "Smith and Jones", phone="(09) 123 4567")
    assert pairs(firm_a) == {(mine.pk, theirs.pk): ("same", ("Same name", "same phone"))}


def test_same_name_and_a_contact_s_email_is_the_same_client(firm_a):
    theirs = xpm_client(firm_a, "Blue Gum Joinery")
    add_contact(theirs, "Ray Lee", email="ray@bluegum.example.com", xpm_uuid=uuid.uuid4())
    mine = make_client(firm_a, "Blue Gum Joinery Ltd", source="csv")
    add_contact(mine, "Ray Lee", email="RAY@bluegum.example.com")
    assert pairs(firm_a) == {(mine.pk, theirs.pk): ("same", ("Same name", "same contact email"))}


def test_same_name_with_nothing_else_in_common_is_only_likely(firm_a):
    theirs = xpm_client(firm_a, "Coastal Holdings Pty Ltd", email="a@coastal.example.com")
    mine = make_client(firm_a, "Coastal Holdings", email="b@elsewhere.example.com")
    assert pairs(firm_a) == {(mine.pk, theirs.pk): ("likely", ("Same name",))}


def test_a_very_similar_name_is_likely(firm_a):
    theirs = xpm_client(firm_a, "Greenfield Dental Partners")
    mine = make_client(firm_a, "Greenfeld Dental Partners")
    found = pairs(firm_a)
    assert list(found) == [(mine.pk, theirs.pk)]
    confidence, reasons = found[(mine.pk, theirs.pk)]
    assert confidence == "likely" and reasons[0].startswith("Similar name (")


def test_the_same_email_on_different_names_is_likely(firm_a):
    theirs = xpm_client(firm_a, "Whitcombe Family Trust", email="d.whitcombe@example.net")
    mine = make_client(firm_a, "Daniel Whitcombe", email="d.whitcombe@example.net")
    assert pairs(firm_a) == {(mine.pk, theirs.pk): ("likely", ("Same email, different name",))}


def test_different_clients_are_not_proposed(firm_a):
    xpm_client(firm_a, "Harbourline Logistics Pty Ltd", email="accounts@harbourline.example.com")
    xpm_client(firm_a, "Jane Smith", phone="0412 345 678")
    make_client(firm_a, "Ironbark Physio", email="desk@ironbark.example.com")
    make_client(firm_a, "John Smith", phone="0499 999 999")
    assert pairs(firm_a) == {}


def test_two_xpm_clients_are_never_a_pair_nor_two_portal_clients(firm_a):
    xpm_client(firm_a, "Aroha Bakery Ltd", email="a@aroha.example.com")
    xpm_client(firm_a, "Aroha Bakery", email="a@aroha.example.com")
    make_client(firm_a, "Wattle Motors", email="w@wattle.example.com")
    make_client(firm_a, "Wattle Motors Ltd", email="w@wattle.example.com")
    assert pairs(firm_a) == {}


def test_archived_clients_are_not_proposed(firm_a):
    xpm_client(firm_a, "Aroha Bakery Ltd", email="a@aroha.example.com", is_archived=True)
    theirs = xpm_client(firm_a, "Summit Motors", email="s@summit.example.com")
    make_client(firm_a, "Summit Motors", email="s@summit.example.com", is_archived=True)
    make_client(firm_a, "Aroha Bakery", email="a@aroha.example.com")
    assert pairs(firm_a) == {}
    assert theirs.pk


def test_carol_s_clients_are_never_proposed_to_alice_s_firm(firm_a, firm_b):
    xpm_client(firm_b, "Aroha Bakery Ltd", email="hello@aroha.example.com")
    make_client(firm_a, "Aroha Bakery", email="hello@aroha.example.com")
    make_client(firm_b, "Greenfeld Dental Partners")
    xpm_client(firm_a, "Greenfield Dental Partners")
    theirs = xpm_client(firm_a, "Summit Motors", email="s@summit.example.com")
    mine = make_client(firm_a, "Summit Motors Ltd", email="s@summit.example.com")
    assert refresh_duplicates(firm_a) == 1
    assert refresh_duplicates(firm_b) == 0
    pair = DuplicatePair.objects.get()
    assert (pair.firm, pair.client, pair.xpm_client) == (firm_a, mine, theirs)


def test_similar_names_keep_only_the_best_few_matches(firm_a):
    for n in range(1, 7):
        xpm_client(firm_a, f"Smith Family Trust No {n}")
    mine = make_client(firm_a, "Smith Family Trust No")
    found = [f for f in find_duplicates(firm_a) if f.client_id == mine.pk]
    assert len(found) == 3


def test_refreshing_stores_the_pairs_and_writes_nothing_when_nothing_changed(
    firm_a, django_assert_max_num_queries
):
    theirs = xpm_client(firm_a, "Aroha Bakery Ltd", email="hello@aroha.example.com")
    mine = make_client(firm_a, "Aroha Bakery", email="hello@aroha.example.com")
    assert refresh_duplicates(firm_a) == 1
    stored = DuplicatePair.objects.get()
    assert (stored.client_id, stored.xpm_client_id, stored.confidence) == (
        mine.pk,
        theirs.pk,
        "same",
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        refresh_duplicates(firm_a)
    writes = [
        q["sql"] for q in queries if q["sql"].lstrip().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert DuplicatePair.objects.get().pk == stored.pk

    mine.email = "other@example.com"
    mine.save(update_fields=["email"])
    refresh_duplicates(firm_a)
    assert DuplicatePair.objects.get().confidence == "likely"
    mine.name = "Ironbark Physio"
    mine.save(update_fields=["name"])
    assert refresh_duplicates(firm_a) == 0
    assert not DuplicatePair.objects.exists()


def test_not_the_same_is_remembered_when_the_portal_looks_again(firm_a, alice):
    from clients.merge import dismiss_pair

    xpm_client(firm_a, "Aroha Bakery Ltd", email="hello@aroha.example.com")
    make_client(firm_a, "Aroha Bakery", email="hello@aroha.example.com")
    refresh_duplicates(firm_a)
    dismiss_pair(DuplicatePair.objects.get(), by=alice)
    assert DuplicateDismissal.objects.filter(firm=firm_a, decided_by=alice).count() == 1
    assert refresh_duplicates(firm_a) == 0
    assert not DuplicatePair.objects.exists()


def test_the_similarity_join_misses_no_pair_that_comparing_every_pair_finds():
    rng = random.Random(7)
    words = ["harbour", "bakery", "smith", "kowhai", "trust", "family", "dental", "logistic"]

    def name():
        picked = [rng.choice(words) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:  # a typo
            word = list(rng.choice(picked))
            word.insert(rng.randrange(len(word)), rng.choice("aeiou"))
            picked[0] = "".join(word)
        return " ".join(picked)

    portal = [duplicates._Side(n, name(), "", "") for n in range(150)]
    xpm = {n: duplicates._Side(n, name(), "", "") for n in range(1000, 1400)}
    found = duplicates._similar_names(portal, xpm)
    expected = {}
    for mine in portal:
        scored = sorted(
            (
                (pk, duplicates.similarity(mine.grams, theirs.grams))
                for pk, theirs in xpm.items()
                if theirs.key != mine.key
            ),
            key=lambda item: (-item[1], item[0]),
        )
        best = [item for item in scored if item[1] >= duplicates.SIMILAR_NAMES]
        if best:
            expected[mine.pk] = best[: duplicates.MAX_SIMILAR]
    assert found == expected
    assert len(found) > 20  # the names are alike enough for the test to mean something
