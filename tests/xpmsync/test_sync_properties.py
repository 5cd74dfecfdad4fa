"""Property: whatever XPM looks like from one sync to the next, the portal mirrors it.

Hypothesis draws sequences of practice states — clients and contacts added, changed, archived,
deleted, re-added, contacts moved between clients — and after each sync checks the portal
against the expected mirror, and that every client with contacts has exactly one primary.
"""

import io
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.models import Client, ClientContact
from tests.factories import make_firm
from xpmsync.mirror import apply_records
from xpmsync.parse import parse_client_list
from xpmsync.sandbox.practice import SandboxClient, SandboxContact, client_xml

CLIENT_IDS = [str(uuid.UUID(int=n, version=4)) for n in range(1, 9)]
CONTACT_IDS = [str(uuid.UUID(int=100 + n, version=4)) for n in range(1, 9)]
NAMES = ["Ann Lee", "bob Stone", "Zoë Ray", "Élodie Fox", "Sam Oak", "Kim Ng", "ann Lee", "Tom Ash"]

contact_state = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "salutation": st.sampled_from(["", "", "Annie", "Bob", "zed", "Élo"]),
        "email": st.sampled_from(["", "a@example.com", "b@example.com"]),
    }
)
client_state = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Acme", "Blue Gum", "Café Crème", "Delta & Co"]),
        "email": st.sampled_from(["", "office@example.com", "hello@example.com"]),
        "state": st.sampled_from(["active", "active", "active", "archived", "deleted", "prospect"]),
        # (contact index, is flagged primary, is deleted)
        "contacts": st.lists(
            st.tuples(st.integers(0, 7), st.booleans(), st.booleans()), max_size=4
        ),
    }
)
practice_state = st.fixed_dictionaries(
    {
        "clients": st.dictionaries(st.integers(0, 7), client_state, max_size=6),
        "contacts": st.lists(contact_state, min_size=8, max_size=8),
    }
)


def render(state) -> bytes:
    parts = []
    for index, spec in sorted(state["clients"].items()):
        client = SandboxClient(
            uuid=CLIENT_IDS[index],
            name=f"{spec['name']} {index}",
            is_individual=False,
            email=spec["email"],
            phone="",
            city=("Hobart", "TAS", "7000"),
            structure="Company",
            manager="",
            is_prospect=spec["state"] == "prospect",
            is_archived=spec["state"] == "archived",
            is_deleted=spec["state"] == "deleted",
        )
        flagged_one = False
        seen = set()
        for contact_index, flagged, deleted in spec["contacts"]:
            if contact_index in seen:
                continue
            seen.add(contact_index)
            person = state["contacts"][contact_index]
            contact = SandboxContact(
                uuid=CONTACT_IDS[contact_index],
                name=person["name"],
                salutation=person["salutation"],
                email=person["email"],
                phone="",
                mobile="",
                is_deleted=deleted,
            )
            is_primary = flagged and not flagged_one and not deleted  # XPM flags at most one
            flagged_one |= is_primary
            client.contacts.append((contact, is_primary, "Director" if flagged else ""))
        parts.append(client_xml(client))
    return (
        "<Response><Status>OK</Status><Clients>" + "".join(parts) + "</Clients></Response>"
    ).encode()


def expected_mirror(state, seen_before: set[str]) -> dict:
    """What the portal should hold: uuid -> (archived, name, email, set of linked contacts)."""
    mirror = {}
    listed = set()
    for index, spec in state["clients"].items():
        uuid_ = CLIENT_IDS[index]
        listed.add(uuid_)
        active = spec["state"] in ("active", "prospect")
        if not active and uuid_ not in seen_before:
            continue  # archived and deleted XPM clients are never added
        first: dict[int, bool] = {}
        for i, _flag, deleted in spec["contacts"]:
            first.setdefault(i, deleted)  # the practice lists each contact once: the first
        contacts = {CONTACT_IDS[i] for i, deleted in first.items() if not deleted}
        mirror[uuid_] = {
            "archived": not active,
            "name": f"{spec['name']} {index}",
            "email": spec["email"],
            "prospect": spec["state"] == "prospect",
            "contacts": contacts if active else None,  # archived clients keep their last contacts
        }
    for uuid_ in seen_before - listed:
        mirror[uuid_] = {"archived": True, "contacts": None}
    return mirror


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(states=st.lists(practice_state, min_size=1, max_size=4))
def test_every_sync_leaves_an_exact_mirror_of_xpm(db, states):
    firm = make_firm()
    seen: set[str] = set()
    for state in states:
        records = list(parse_client_list(io.BytesIO(render(state))))
        # The mirror itself, without the hold a wipe-like list gets (test_held_sync covers it).
        apply_records(firm, records, connection_id=_connection(firm), check_safety=False)
        mirror = expected_mirror(state, seen)
        portal = {
            str(c.xpm_uuid): c for c in Client.objects.for_firm(firm).filter(xpm_uuid__isnull=False)
        }
        assert set(portal) == set(mirror)
        for uuid_, want in mirror.items():
            client = portal[uuid_]
            assert client.is_archived == want["archived"]
            if want["archived"]:
                continue
            assert (client.name, client.email, client.is_prospect) == (
                want["name"], want["email"], want["prospect"]
            )  # fmt: skip
            links = ClientContact.objects.filter(client=client)
            assert {str(link.contact.xpm_uuid) for link in links} == want["contacts"]
            if want["contacts"]:
                assert links.filter(is_primary=True).count() == 1
        seen |= set(portal)


def _connection(firm) -> int:
    from xpmsync.models import XpmConnection

    connection, _ = XpmConnection.objects.get_or_create(firm=firm, defaults={"status": "active"})
    return connection.pk
