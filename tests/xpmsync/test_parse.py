"""Reading XPM's client list: the shared sample, its quirks, and hostile documents."""

import io
from pathlib import Path

import pytest

from xpmsync.parse import XpmResponseError, parse_client_list

# A copy of shared/xpm/sample-client-list.xml, the team's invented XPM response.
SAMPLE = Path(__file__).resolve().parent / "sample-client-list.xml"


def parse(xml: str | bytes):
    data = xml.encode() if isinstance(xml, str) else xml
    return list(parse_client_list(io.BytesIO(data)))


def wrap(clients: str, status: str = "OK", attrs: str = "") -> str:
    return f"<Response{attrs}><Status>{status}</Status><Clients>{clients}</Clients></Response>"


def test_the_shared_sample_parses_into_six_clients():
    clients = parse(SAMPLE.read_bytes())
    assert [c.name for c in clients] == [
        "Daniel Whitcombe",
        "Harbourline Logistics Pty Ltd",
        "Greenfield Dental Partners",
        "Bright Spark Electrical Pty Ltd",
        "The Trustee for Old Mill Bakery Trust",
        "Nguyễn & Müller Café Pty Ltd",
    ]
    daniel, harbour, greenfield, bright, old_mill, cafe = clients
    assert daniel.is_individual and not harbour.is_individual
    assert daniel.account_manager == "Priya Raman" and daniel.client_type == "14 Days"
    assert bright.is_prospect and bright.job_manager == "" and bright.business_structure == ""
    assert old_mill.is_archived and not old_mill.is_active
    assert old_mill.contacts[1].is_deleted and old_mill.contacts[1].position == ""
    assert [c.salutation for c in harbour.contacts] == ["Sarah-Jane", "Bob", "Ms Chen"]
    assert not any(c.is_primary for c in harbour.contacts)
    assert greenfield.contacts[0].is_primary and greenfield.contacts[1].salutation == ""
    assert cafe.email == "" and cafe.contacts[1].name == "Zoë Müller-Łukasiewicz"
    assert daniel.uuid == "40e028bb-406a-4492-90a5-2588ed48f038"


def test_the_api_method_attribute_is_optional():
    client = "<Client><UUID>AB12CD34-0000-4000-8000-000000000001</UUID><Name>Acme</Name></Client>"
    assert parse(wrap(client))[0].name == "Acme"
    assert parse(wrap(client, attrs=' api-method="List"'))[0].name == "Acme"


def test_every_element_is_optional_and_flags_are_yes_no():
    client = (
        "<Client><UUID>ab12cd34-0000-4000-8000-000000000001</UUID><Name>Bare</Name>"
        "<IsProspect>Yes</IsProspect><IsArchived>No</IsArchived><Email /></Client>"
    )
    record = parse(wrap(client))[0]
    assert record.is_prospect and not record.is_archived and not record.is_deleted
    assert record.email == "" and record.contacts == [] and record.account_manager == ""


def test_a_collection_with_one_item_is_still_a_collection():
    client = (
        "<Client><UUID>ab12cd34-0000-4000-8000-000000000001</UUID><Name>One</Name><Contacts>"
        "<Contact><UUID>cd12cd34-0000-4000-8000-000000000002</UUID><Name>Solo Person</Name>"
        "</Contact></Contacts></Client>"
    )
    assert [c.name for c in parse(wrap(client))[0].contacts] == ["Solo Person"]


def test_multi_line_addresses_are_stripped_line_by_line():
    client = (
        "<Client><UUID>ab12cd34-0000-4000-8000-000000000001</UUID><Name>A</Name>"
        "<Address>\n      Level 2\n        9 Station Street   \n\n    </Address></Client>"
    )
    assert parse(wrap(client))[0].address == "Level 2\n9 Station Street"


def test_status_error_is_refused_with_its_description():
    body = (
        "<Response><Status>ERROR</Status>"
        "<ErrorDescription>Unknown tenant</ErrorDescription></Response>"
    )
    with pytest.raises(XpmResponseError, match="status ERROR: Unknown tenant"):
        parse(body)


def test_a_response_without_status_is_refused():
    with pytest.raises(XpmResponseError, match="no <Status>"):
        parse("<Response><Clients /></Response>")


@pytest.mark.parametrize(
    "document",
    [
        b"<Response><Status>OK</Status><Clients><Client><UUID>",  # truncated
        b"<Response><Status>OK</Status></Respons>",  # mismatched tag
        b"",  # empty
        b"not xml at all",
        "<Response><Status>OK</Status><Clients><Client><UUID>1</UUID><Name>Caf\xe9</Name>"
        "</Client></Clients></Response>".encode("latin-1"),  # says nothing, is not UTF-8
    ],
)
def test_malformed_documents_are_refused(document):
    with pytest.raises(XpmResponseError):
        parse(document)


def test_a_client_without_uuid_is_refused():
    with pytest.raises(XpmResponseError, match="no UUID"):
        parse(wrap("<Client><Name>Nameless</Name></Client>"))


def test_the_wrong_root_is_refused():
    with pytest.raises(XpmResponseError, match="inside a <Response>"):
        parse("<Clients><Client /></Clients>")
    with pytest.raises(XpmResponseError, match="no <Status>"):
        parse("<Clients><Status>OK</Status></Clients>")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Response><Status>OK</Status><Clients><Client><UUID>1</UUID><Name>&lol3;</Name></Client></Clients></Response>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Response><Status>OK</Status><Clients><Client><UUID>1</UUID><Name>&xxe;</Name></Client></Clients></Response>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_tricks_and_dtds_are_refused(document):
    with pytest.raises(XpmResponseError, match="DTD"):
        parse(document)


@pytest.mark.parametrize("padding", [5_000, 200_000])
def test_a_dtd_behind_a_long_comment_is_refused_by_the_parser(padding):
    """A scan of the first bytes would miss it; the parser reports the DOCTYPE wherever it is."""
    hidden = (
        b'<?xml version="1.0"?><!-- ' + b"x" * padding + b" -->" + BILLION_LAUGHS.split(b"?>", 1)[1]
    )
    with pytest.raises(XpmResponseError, match="DTD"):
        parse(hidden)


def test_a_dtd_with_no_element_the_parser_reports_is_refused_too():
    with pytest.raises(XpmResponseError, match="DTD"):
        parse(b'<!DOCTYPE Other SYSTEM "http://example.com/x.dtd"><Other />')


def test_deep_nesting_is_refused():
    deep = "<a>" * 5000 + "</a>" * 5000
    with pytest.raises(XpmResponseError):
        parse(f"<Response><Status>OK</Status><Clients><Client>{deep}</Client></Clients></Response>")


def test_a_huge_text_node_is_refused():
    huge = "x" * 50_000
    with pytest.raises(XpmResponseError, match="far beyond"):
        parse(wrap(f"<Client><UUID>1</UUID><Name>{huge}</Name></Client>"))


def test_a_text_node_past_libxml2s_limit_is_refused_without_reading_it_whole():
    body = b"<Response><Status>OK</Status><Clients><Client><UUID>1</UUID><Name>"
    body += b"y" * (11 * 1024 * 1024) + b"</Name></Client></Clients></Response>"
    with pytest.raises(XpmResponseError):
        parse(body)
