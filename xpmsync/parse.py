"""Reading XPM's detailed client list as a stream into plain records.

The document can be tens of megabytes, so it is parsed incrementally with lxml's iterparse and
each <Client> is freed as soon as it has been read. Entities are never expanded, DTDs never
loaded and the network never touched; a document that declares a DTD anywhere is refused, as the
parser reports it (not by scanning the bytes, which a long comment in front could defeat). Every
element is optional, flags are "Yes"/"No", empty values are self-closing, and a collection
with one item is still a collection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from lxml import etree

from .fields import CLIENT, CLIENT_STATE, CONTACT, CONTACT_LINK, CONTACT_STATE, Read, XpmField

# The longest text we keep in one field (XPM's own limits are far lower).
MAX_TEXT = 10_000


class XpmResponseError(Exception):
    """The response is not a usable client list; the message says why in plain words, and
    ``detail`` holds the parser's own account, for support."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


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
        return is_individual(self.business_structure, self.first_name, self.last_name)

    @property
    def is_active(self) -> bool:
        return not (self.is_archived or self.is_deleted)


# Each practice names its business structures "as per Admin", and may rename them, so the kind
# is read from the words in the name; FirstName/LastName (sent for individuals only) decide the
# rest. The name itself is kept and shown as XPM has it.
_INDIVIDUAL_STRUCTURE = re.compile(r"\b(individual|sole[ -]trader|sole[ -]proprietor|person)s?\b")
_ORGANISATION_STRUCTURE = re.compile(
    r"\b(compan(y|ies)|trusts?|partnerships?|limited|ltd|pty|inc|incorporated|corporation|"
    r"society|association|club|charity|fund|smsf|estate|co-?operative|body corporate|llc|llp|"
    r"government|council|school)\b"
)


def is_individual(business_structure: str, first_name: str = "", last_name: str = "") -> bool:
    """Whether a client is a person, from XPM's business structure name and its name fields."""
    structure = " ".join(business_structure.casefold().split())
    if _INDIVIDUAL_STRUCTURE.search(structure):
        return True
    if _ORGANISATION_STRUCTURE.search(structure):
        return False
    return bool(first_name.strip() or last_name.strip())


def _refuse_dtd(element) -> None:
    if element is not None and element.getroottree().docinfo.doctype:
        raise XpmResponseError("The response declares a DTD, which XPM never sends.")


def parse_client_list(stream: IO[bytes]) -> Iterator[ClientRecord]:
    """Yield every client in the response; raises XpmResponseError on anything but a good list."""
    events = etree.iterparse(
        stream,
        events=("end",),
        # Only these reach Python; lxml skips the rest in C, which is most of the speed.
        tag=("Response", "Status", "ErrorDescription", "Client"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,  # libxml2's own limits: depth, and 10 MB in one text node
        remove_comments=True,
        remove_pis=True,
    )
    status = None
    description = ""
    checked_dtd = False
    try:
        for _event, element in events:
            if not checked_dtd:  # the DOCTYPE, if any, precedes the first element
                _refuse_dtd(element)
                checked_dtd = True
            parent = element.getparent()
            if parent is None:
                if element.tag != "Response":
                    raise XpmResponseError(f"Expected a <Response>, found <{element.tag}>.")
            elif element.tag == "Status" and _is_root_response(parent):
                status = _text(element)
            elif element.tag == "ErrorDescription" and _is_root_response(parent):
                description = _text(element)
            elif element.tag == "Client" and parent.tag == "Clients":
                if not _is_root_response(parent.getparent()):
                    raise XpmResponseError("Expected <Clients> inside a <Response>.")
                if status != "OK":
                    raise XpmResponseError(_status_problem(status, description))
                yield _client(element)
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as error:
        if "XML_PARSE_HUGE" in (error.msg or ""):  # libxml2's depth and text-size limits
            raise XpmResponseError(
                "The response goes beyond the parser's safety limits (a single value over 10 MB, "
                "or elements nested too deep), which XPM never sends."
            ) from error
        raise XpmResponseError(
            "The response was cut off or is not well-formed XML.", detail=error.msg or ""
        ) from error
    _refuse_dtd(events.root)
    if status != "OK":
        raise XpmResponseError(_status_problem(status, description))


def _is_root_response(element) -> bool:
    return element is not None and element.tag == "Response" and element.getparent() is None


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


def _children(element) -> dict:
    """The element's children by tag (the first of each), read in one pass."""
    children: dict = {}
    for child in element:
        children.setdefault(child.tag, child)
    return children


def _multiline(text: str) -> str:
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _read(fields: dict, spec: XpmField) -> str | bool:
    element = fields.get(spec.element)
    if spec.read is Read.NAME_OF:
        return _text(element.find("Name")) if element is not None else ""
    text = _text(element)
    if spec.read is Read.FLAG:
        return text.casefold() == "yes"
    if spec.read is Read.MULTILINE:
        return _multiline(text)
    return text


def _values(element, specs: tuple[XpmField, ...]) -> dict:
    """The element's values for each field of the table, read in one pass over its children."""
    fields = _children(element)
    return {spec.name: _read(fields, spec) for spec in specs}


def _uuid(element, what: str) -> str:
    uuid = _text(element.find("UUID"))
    if not uuid:
        raise XpmResponseError(f"A {what} in the response has no UUID.")
    return uuid.lower()


def _client(element) -> ClientRecord:
    values = _values(element, CLIENT + CLIENT_STATE)
    values["name"] = values["name"] or "(no name in XPM)"
    record = ClientRecord(uuid=_uuid(element, "client"), **values)
    contacts = element.find("Contacts")
    if contacts is not None:
        record.contacts = [_contact(c) for c in contacts if c.tag == "Contact"]
    return record


def _contact(element) -> ContactRecord:
    values = _values(element, CONTACT + CONTACT_LINK + CONTACT_STATE)
    values["name"] = values["name"] or "(no name in XPM)"
    return ContactRecord(uuid=_uuid(element, "contact"), **values)
