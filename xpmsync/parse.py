"""Reading XPM's detailed client list as a stream into plain records.

The document can be tens of megabytes, so it is parsed incrementally with lxml's iterparse and
each <Client> is freed as soon as it has been read. Entities are never expanded, DTDs never
loaded and the network never touched; a document that declares a DTD at all is refused. Every
element is optional, flags are "Yes"/"No", empty values are self-closing, and a collection
with one item is still a collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from lxml import etree

# Anything this deep is not XPM's shape: refuse rather than walk it.
MAX_DEPTH = 12
# The longest text we keep in one field (XPM's own limits are far lower).
MAX_TEXT = 10_000


class XpmResponseError(Exception):
    """The response is not a usable client list; the message says why."""


@dataclass(slots=True)
class ContactRecord:
    uuid: str
    name: str
    salutation: str = ""
    addressee: str = ""
    email: str = ""
    phone: str = ""
    mobile: str = ""
    position: str = ""
    is_primary: bool = False
    is_deleted: bool = False


@dataclass(slots=True)
class ClientRecord:
    uuid: str
    name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    website: str = ""
    address: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""
    postal_address: str = ""
    postal_city: str = ""
    postal_region: str = ""
    postal_postcode: str = ""
    postal_country: str = ""
    is_prospect: bool = False
    is_archived: bool = False
    is_deleted: bool = False
    business_structure: str = ""
    client_type: str = ""
    account_manager: str = ""
    job_manager: str = ""
    company_number: str = ""
    business_number: str = ""
    referral_source: str = ""
    contacts: list[ContactRecord] = field(default_factory=list)

    @property
    def is_individual(self) -> bool:
        return self.business_structure.casefold() == "individual" or bool(
            self.first_name and self.last_name and not self.business_structure
        )

    @property
    def is_active(self) -> bool:
        return not (self.is_archived or self.is_deleted)


class _GuardedStream:
    """Refuses a document that declares a DTD, before the parser sees it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.head = b""

    def read(self, size: int = 64 * 1024) -> bytes:
        chunk = self.raw.read(size)
        if len(self.head) < 4096:
            self.head += chunk[:4096]
            if b"<!DOCTYPE" in self.head.upper() or b"<!ENTITY" in self.head.upper():
                raise XpmResponseError("The response declares a DTD, which XPM never sends.")
        return chunk


def parse_client_list(stream: IO[bytes]) -> Iterator[ClientRecord]:
    """Yield every client in the response; raises XpmResponseError on anything but a good list."""
    parser_events = etree.iterparse(
        _GuardedStream(stream),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    status = None
    description = ""
    depth = 0
    try:
        for event, element in parser_events:
            if event == "start":
                depth += 1
                if depth > MAX_DEPTH:
                    raise XpmResponseError("The response is nested far deeper than XPM's shape.")
                continue
            depth -= 1
            tag = element.tag
            if depth == 0 and tag != "Response":
                raise XpmResponseError(f"Expected a <Response>, found <{tag}>.")
            if depth == 1 and tag == "Status":
                status = _text(element)
            elif depth == 1 and tag == "ErrorDescription":
                description = _text(element)
            elif depth == 2 and tag == "Client":
                if status != "OK":
                    raise XpmResponseError(_status_problem(status, description))
                yield _client(element)
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except etree.XMLSyntaxError as error:
        raise XpmResponseError(f"The response is not well-formed XML: {error.msg}") from error
    if status != "OK":
        raise XpmResponseError(_status_problem(status, description))


def _status_problem(status: str | None, description: str) -> str:
    if status is None:
        return "The response has no <Status>, so it cannot be trusted."
    return f"XPM answered with status {status}" + (f": {description}" if description else ".")


def _text(element) -> str:
    if element is None:
        return ""
    text = (element.text or "").strip()
    if len(text) > MAX_TEXT:
        raise XpmResponseError(f"<{element.tag}> holds {len(text)} characters, far beyond XPM's.")
    return text


def _child(parent, tag: str) -> str:
    return _text(parent.find(tag))


def _multiline(parent, tag: str) -> str:
    lines = (line.strip() for line in _child(parent, tag).splitlines())
    return "\n".join(line for line in lines if line)


def _flag(parent, tag: str) -> bool:
    return _child(parent, tag).casefold() == "yes"


def _name_of(parent, tag: str) -> str:
    element = parent.find(tag)
    return _child(element, "Name") if element is not None else ""


def _client(element) -> ClientRecord:
    uuid = _child(element, "UUID")
    if not uuid:
        raise XpmResponseError("A client in the response has no UUID.")
    record = ClientRecord(
        uuid=uuid.lower(),
        name=_child(element, "Name") or "(no name in XPM)",
        first_name=_child(element, "FirstName"),
        last_name=_child(element, "LastName"),
        email=_child(element, "Email"),
        phone=_child(element, "Phone"),
        website=_child(element, "Website"),
        address=_multiline(element, "Address"),
        city=_child(element, "City"),
        region=_child(element, "Region"),
        postcode=_child(element, "PostCode"),
        country=_child(element, "Country"),
        postal_address=_multiline(element, "PostalAddress"),
        postal_city=_child(element, "PostalCity"),
        postal_region=_child(element, "PostalRegion"),
        postal_postcode=_child(element, "PostalPostCode"),
        postal_country=_child(element, "PostalCountry"),
        is_prospect=_flag(element, "IsProspect"),
        is_archived=_flag(element, "IsArchived"),
        is_deleted=_flag(element, "IsDeleted"),
        business_structure=_child(element, "BusinessStructure"),
        client_type=_name_of(element, "Type"),
        account_manager=_name_of(element, "AccountManager"),
        job_manager=_name_of(element, "JobManager"),
        company_number=_child(element, "CompanyNumber"),
        business_number=_child(element, "BusinessNumber"),
        referral_source=_child(element, "ReferralSource"),
    )
    contacts = element.find("Contacts")
    if contacts is not None:
        record.contacts = [_contact(c) for c in contacts.iterfind("Contact")]
    return record


def _contact(element) -> ContactRecord:
    uuid = _child(element, "UUID")
    if not uuid:
        raise XpmResponseError("A contact in the response has no UUID.")
    return ContactRecord(
        uuid=uuid.lower(),
        name=_child(element, "Name") or "(no name in XPM)",
        salutation=_child(element, "Salutation"),
        addressee=_child(element, "Addressee"),
        email=_child(element, "Email"),
        phone=_child(element, "Phone"),
        mobile=_child(element, "Mobile"),
        position=_child(element, "Position"),
        is_primary=_flag(element, "IsPrimary"),
        is_deleted=_flag(element, "IsDeleted"),
    )
