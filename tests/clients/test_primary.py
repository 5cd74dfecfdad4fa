"""The primary-contact rule, as a table."""

import pytest

from clients.primary import Candidate, Reason, choose_primary

C = Candidate

CASES = [
    # (description, candidates, expected name, expected reason)
    ("one contact", [C("Ana Lee")], "Ana Lee", Reason.FIRST_NAME),
    (
        "the XPM flag wins over salutations",
        [C("Zed Young", "Aaron"), C("Mia Chen", "Zoe", is_xpm_primary=True)],
        "Mia Chen",
        Reason.XPM,
    ),
    (
        "salutation, alphabetically",
        [
            C("Sarah-Jane Kowalski", "Sarah-Jane"),
            C("Robert Tennant", "Bob"),
            C("Amelia Chen", "Ms Chen"),
        ],
        "Robert Tennant",
        Reason.SALUTATION,
    ),
    (
        "salutation ignores case",
        [C("Ann Smith", "bea"), C("Carl Jones", "Adam"), C("Dora White", "alice")],
        "Carl Jones",
        Reason.SALUTATION,
    ),
    (
        "those with a salutation beat those without",
        [C("Aaron Able", ""), C("Zoe Zimmer", "Zed")],
        "Zoe Zimmer",
        Reason.SALUTATION,
    ),
    (
        "blank salutations: first name, the first word of the name",
        [C("Nadia Farouk"), C("Liam O'Sullivan")],
        "Liam O'Sullivan",
        Reason.FIRST_NAME,
    ),
    (
        "whitespace-only salutations count as blank",
        [C("Yusuf Ali", "   "), C("Bea Kim", "")],
        "Bea Kim",
        Reason.FIRST_NAME,
    ),
    (
        "same salutation: full name breaks the tie",
        [C("Dan Wu", "Dan"), C("Dan Brown", "dan")],
        "Dan Brown",
        Reason.SALUTATION,
    ),
    (
        "same first name: full name breaks the tie",
        [C("Sam Zhou"), C("Sam Adams")],
        "Sam Adams",
        Reason.FIRST_NAME,
    ),
    (
        "same name: UUID breaks the tie",
        [
            C("Jo Park", uuid="bbbbbbbb-0000-0000-0000-000000000000"),
            C("Jo Park", uuid="aaaaaaaa-0000-0000-0000-000000000000"),
        ],
        "Jo Park",
        Reason.FIRST_NAME,
    ),
    (
        "accents sort with their letter",
        [C("Zoë Müller-Łukasiewicz"), C("Élodie Martin"), C("Emma Stone")],
        "Élodie Martin",
        Reason.FIRST_NAME,
    ),
    (
        "unicode salutations",
        [C("Nguyễn Thị Hương", "Hương"), C("Zoë Müller", "Zoë")],
        "Nguyễn Thị Hương",
        Reason.SALUTATION,
    ),
    (
        "an explicit first name (CSV) is used over the name's first word",
        [C("Smith, Anna", first_name="Anna"), C("Brown, Zac", first_name="Zac")],
        "Smith, Anna",
        Reason.FIRST_NAME,
    ),
]


@pytest.mark.parametrize("description,candidates,expected,reason", CASES, ids=[c[0] for c in CASES])
def test_primary_contact_rule(description, candidates, expected, reason):
    index, why = choose_primary(candidates)
    assert candidates[index].name == expected
    assert why == reason


def test_uuid_tie_break_picks_the_lower_uuid():
    low = C("Jo Park", uuid="aaaaaaaa-0000-0000-0000-000000000000")
    high = C("Jo Park", uuid="bbbbbbbb-0000-0000-0000-000000000000")
    assert choose_primary([high, low])[0] == 1
    assert choose_primary([low, high])[0] == 0


def test_the_choice_does_not_depend_on_order():
    people = [C("Dan Wu", "Dan"), C("Dan Brown", "dan"), C("Ali Khan", ""), C("Zed Ray", "Zed")]
    chosen = {order[choose_primary(order)[0]].name for order in (people, people[::-1])}
    assert chosen == {"Dan Brown"}


def test_no_contacts_no_primary():
    assert choose_primary([]) is None
