"""A deterministic, generated XPM practice, written as XPM's detailed client list XML.

The same size and seed always give the same practice. It has what a real one has: individuals and
organisations, 0-5 contacts per client (about 1.4 on average), contacts shared between clients,
prospects, archived and deleted clients, empty and unicode fields, salutations present and blank,
and clients with and without a primary flag. It is written in chunks, so a large practice never
sits in memory whole.
"""

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from ..fields import CLIENT, CLIENT_STATE, CONTACT, CONTACT_LINK, CONTACT_STATE, Read, XpmField

FIRST_NAMES = [
    "Olivia", "Jack", "Amelia", "Noah", "Isla", "William", "Mia", "Liam", "Charlotte", "Oliver",
    "Zoë", "Hương", "Łukasz", "Chloé", "Mateo", "Aroha", "Priya", "Tomás", "Siobhán", "Wei",
    "dan", "Élodie", "Nadia", "Kirra", "Rangi", "Sofía", "Björn", "Aisha", "Hiroshi", "Grace",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Nguyễn", "Williams", "Brown", "Müller", "O'Sullivan", "Chen", "Singh", "Kowalski",
    "Taylor", "Wilson", "Tāufa", "Martin", "Anderson", "Dubois", "García", "Kim", "Patel",
    "Thompson", "White", "Harris", "Łukasiewicz", "Walker", "Young", "King", "Wright",
]  # fmt: skip
BUSINESS_WORDS = [
    "Harbour", "Greenfield", "Bright Spark", "Old Mill", "Blue Gum", "Coastal", "Summit",
    "Ironbark", "Café Crème", "Kōwhai", "Wattle", "Silver Fern", "Riverside", "Jacaranda",
]  # fmt: skip
BUSINESS_KINDS = [
    "Logistics", "Dental", "Electrical", "Bakery", "Plumbing", "Consulting", "Holdings",
    "Landscaping", "Physio", "Joinery", "Accounting Services", "Motors",
]  # fmt: skip
STRUCTURES = ["Company", "Trust", "Partnership", "Sole Trader"]
MANAGERS = ["Priya Raman", "Tom Okafor", "Helen Baptiste", ""]
POSITIONS = ["Director", "Owner", "Partner", "Financial Controller", "Office Manager", ""]
CITIES = [
    ("Paddington", "QLD", "4064"), ("Wollongong", "NSW", "2500"), ("Footscray", "VIC", "3011"),
    ("Hahndorf", "SA", "5245"), ("Fremantle", "WA", "6160"), ("Hobart", "TAS", "7000"),
]  # fmt: skip


@dataclass
class SandboxContact:
    uuid: str
    name: str
    salutation: str
    email: str
    phone: str
    mobile: str
    is_deleted: bool = False


@dataclass
class SandboxClient:
    uuid: str
    name: str
    is_individual: bool
    email: str
    phone: str
    city: tuple[str, str, str]
    structure: str
    manager: str
    is_prospect: bool
    is_archived: bool
    is_deleted: bool
    contacts: list[tuple[SandboxContact, bool, str]] = field(default_factory=list)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _phone(rng: random.Random) -> str:
    return f"(0{rng.randrange(2, 9)}) 5555 {rng.randrange(10000):04d}"


def _mobile(rng: random.Random) -> str:
    return f"04{rng.randrange(10)}{rng.randrange(10)} 555 {rng.randrange(1000):03d}"


def _contact(rng: random.Random) -> SandboxContact:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    salutation = first if rng.random() < 0.6 else ""
    email = f"{first.lower()}.{rng.randrange(1000)}@example.com" if rng.random() < 0.8 else ""
    email = email.encode("ascii", "ignore").decode()
    return SandboxContact(
        uuid=_uuid(rng),
        name=f"{first} {last}",
        salutation=salutation,
        email=email if "@" in email and not email.startswith(".") else "",
        phone=_phone(rng) if rng.random() < 0.4 else "",
        mobile=_mobile(rng) if rng.random() < 0.6 else "",
    )


def clients(
    count: int,
    seed: int = 2026,
    *,
    changed_every: int = 0,
    edits: dict[int, str] | None = None,
    only: Callable[[int], bool] | None = None,
) -> Iterator[SandboxClient]:
    """The practice's clients, one at a time.

    With ``changed_every`` = N, every Nth client has a different email address: the same
    practice a day later, with 1/N of its clients edited in XPM. ``edits`` gives clients (by
    number) another email address; ``only`` keeps the clients (by number) it accepts, as XPM's
    ``modifiedsince`` keeps those modified since then. Every client is still drawn, so the same
    size and seed always give the same practice.
    """
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    shared: list[SandboxContact] = []
    for n in range(count):
        is_individual = rng.random() < 0.35
        if is_individual:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        else:
            name = f"{rng.choice(BUSINESS_WORDS)} {rng.choice(BUSINESS_KINDS)} Pty Ltd"
        name = f"{name} ({n + 1})"
        roll = rng.random()
        client = SandboxClient(
            uuid=_uuid(rng),
            name=name,
            is_individual=is_individual,
            email=f"client{n + 1}@example.com" if rng.random() < 0.9 else "",
            phone=_phone(rng),
            city=rng.choice(CITIES),
            structure="Individual" if is_individual else rng.choice(STRUCTURES),
            manager=rng.choice(MANAGERS),
            is_prospect=0.90 <= roll < 0.95,
            is_archived=roll >= 0.95,
            is_deleted=rng.random() < 0.01,
        )
        if changed_every and n % changed_every == 0:
            client.email = f"changed{n + 1}@example.com"
        if edits and n in edits:
            client.email = edits[n]
        contact_count = rng.choices([0, 1, 2, 3, 4, 5], weights=[10, 55, 20, 9, 4, 2])[0]
        primary_index = rng.randrange(contact_count) if contact_count and rng.random() < 0.6 else -1
        for i in range(contact_count):
            if shared and rng.random() < 0.08:
                contact = rng.choice(shared)  # the same person at two clients
            else:
                contact = _contact(rng)
                if rng.random() < 0.1:
                    shared.append(contact)
            if any(existing.uuid == contact.uuid for existing, _, _ in client.contacts):
                continue
            client.contacts.append((contact, i == primary_index, rng.choice(POSITIONS)))
        if only is None or only(n):
            yield client


def _element(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>" if value else f"<{tag} />"


def _flag(tag: str, value: bool) -> str:
    return f"<{tag}>{'Yes' if value else 'No'}</{tag}>"


def _write(spec: XpmField, value) -> str:
    """One element as XPM writes it, read back by the parser through the same table."""
    if spec.read is Read.FLAG:
        return _flag(spec.element, bool(value))
    if spec.read is Read.NAME_OF:
        if not value:
            return ""
        ref = uuid.uuid5(uuid.NAMESPACE_URL, f"{spec.element}:{value}")
        return f"<{spec.element}><UUID>{ref}</UUID>{_element('Name', value)}</{spec.element}>"
    return _element(spec.element, value)


def _elements(specs: tuple[XpmField, ...], values: dict) -> list[str]:
    return [_write(spec, values.get(spec.name, "")) for spec in specs]


def client_xml(client: SandboxClient) -> str:
    city, region, postcode = client.city
    first, _, last = client.name.partition(" ")
    values = {
        "name": client.name,
        "first_name": first if client.is_individual else "",
        "last_name": last.rsplit(" (", 1)[0] if client.is_individual else "",
        "email": client.email,
        "address": f"{len(client.name)} Example Street\n        Level 1",
        "city": city,
        "region": region,
        "postcode": postcode,
        "country": "Australia",
        "phone": client.phone,
        "is_prospect": client.is_prospect,
        "is_archived": client.is_archived,
        "is_deleted": client.is_deleted,
        "account_manager": client.manager,
        "business_structure": client.structure,
    }
    parts = ["<Client>", _element("UUID", client.uuid), *_elements(CLIENT + CLIENT_STATE, values)]
    parts += ["<Fax />", "<Contacts>"]
    for contact, is_primary, position in client.contacts:
        held = {**contact.__dict__, "is_primary": is_primary, "position": position}
        parts += [
            "<Contact>",
            _element("UUID", contact.uuid),
            # As in Xero's example: IsDeleted, then IsPrimary and Position.
            *_elements(CONTACT + CONTACT_STATE + CONTACT_LINK, held),
            "</Contact>",
        ]
    parts += ["</Contacts>", "<Groups />", "<Relationships />", "</Client>"]
    return "".join(parts)


def practice_xml(
    count: int,
    seed: int = 2026,
    *,
    chunk_clients: int = 200,
    changed_every: int = 0,
    edits: dict[int, str] | None = None,
    only: Callable[[int], bool] | None = None,
) -> Iterator[bytes]:
    """The whole ``client.api/list?detailed=true`` response, in chunks of bytes (see
    ``clients`` for the options)."""
    yield b'<?xml version="1.0" encoding="utf-8"?>\n'
    yield b'<Response api-method="List"><Status>OK</Status><Clients>'
    batch: list[str] = []
    for client in clients(count, seed, changed_every=changed_every, edits=edits, only=only):
        batch.append(client_xml(client))
        if len(batch) >= chunk_clients:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()
    yield b"</Clients></Response>"
