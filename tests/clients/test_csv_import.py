import codecs
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from clients import csv_import
from clients.models import Client, ClientContact, ClientImport, Contact
from tests.factories import add_contact, make_client

HEADER = (
    "Client Name,First Name,Last Name,Client Email,Contact Email,Phone,Mobile,Salutation,Position\n"
)
HARBOUR = "Harbourline Logistics"
HARBOUR_EMAIL = "accounts@harbourline.example.com"
GOOD = (
    HEADER
    + f"{HARBOUR},Robert,Tennant,{HARBOUR_EMAIL},rob@harbourline.example.com,"
    + "07 3555 0984,,Bob,Financial Controller\n"
    + f"{HARBOUR},Amelia,Chen,{HARBOUR_EMAIL},,,0401 555 662,,Office Manager\n"
    + "Daniel Whitcombe,Daniel,Whitcombe,d.whitcombe@example.net,,,,Dan,\n"
)


def upload(http, content, name="clients.csv"):
    data = content if isinstance(content, bytes) else content.encode()
    return http.post("/clients/import/", {"file": SimpleUploadedFile(name, data, "text/csv")})


def shown_plan(preview_html: str) -> str:
    """The plan fingerprint the preview page would post with its Import button ("" if none)."""
    match = re.search(r'name="plan" value="([0-9a-f]+)"', preview_html)
    return match.group(1) if match else ""


def confirm(http, preview_url, **kwargs):
    """Press the preview's Import button, as the page shows it now."""
    plan = shown_plan(http.get(preview_url).content.decode())
    return http.post(preview_url + "confirm/", {"plan": plan}, **kwargs)


def upload_and_confirm(http, content):
    response = upload(http, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    preview = http.get(response["Location"])
    return preview, confirm(http, response["Location"])


def test_template_download_has_the_columns(bob_client):
    response = bob_client.get("/clients/import/template.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().startswith(HEADER.strip())


def test_happy_path_preview_then_import(bob_client, bob, firm_a):
    response = upload(bob_client, GOOD)
    preview = bob_client.get(response["Location"]).content.decode()
    assert "2</strong> new clients" in preview
    assert "3</strong> contacts to add" in preview
    assert Client.objects.count() == 0  # nothing before confirming

    done = confirm(bob_client, response["Location"])
    assert done.status_code == 302
    harbour = Client.objects.get(name="Harbourline Logistics")
    assert harbour.firm == firm_a and harbour.source == Client.Source.CSV
    assert harbour.email == "accounts@harbourline.example.com"
    links = ClientContact.objects.filter(client=harbour).select_related("contact")
    assert {link.contact.name for link in links} == {"Robert Tennant", "Amelia Chen"}
    assert links.get(is_primary=True).contact.name == "Robert Tennant"  # the one with a salutation
    assert links.get(contact__first_name="Amelia").position == "Office Manager"
    assert Client.objects.get(name="Daniel Whitcombe").links.get().is_primary
    summary = bob_client.get(done["Location"]).content.decode()
    assert "2</strong> new clients created" in summary
    assert AuditEvent.objects.filter(action="csv_imported", actor=bob).exists()


def test_a_preview_is_applied_once(bob_client):
    response = upload(bob_client, GOOD)
    plan = shown_plan(bob_client.get(response["Location"]).content.decode())
    bob_client.post(response["Location"] + "confirm/", {"plan": plan})
    again = bob_client.post(response["Location"] + "confirm/", {"plan": plan}, follow=True)
    assert "already applied" in again.content.decode()
    assert Client.objects.count() == 2


def test_rows_for_an_existing_client_add_only_new_contacts(bob_client, firm_a):
    harbour = make_client(firm_a, "HARBOURLINE LOGISTICS", email="accounts@harbourline.example.com")
    add_contact(harbour, "Amelia Chen")
    preview, _done = upload_and_confirm(bob_client, GOOD)
    content = preview.content.decode()
    assert "Matches existing" in content and "(already there)" in content
    assert Client.objects.filter(name__iexact="harbourline logistics").count() == 1
    assert set(harbour.links.values_list("contact__name", flat=True)) == {
        "Amelia Chen",
        "Robert Tennant",
    }


@pytest.mark.parametrize(
    "encoding,separator",
    [
        ("utf-8", ","),
        ("utf-8-sig", ","),
        ("cp1252", ","),
        ("utf-8", ";"),
        ("cp1252", ";"),
        ("utf-16", ","),
    ],
)
def test_encodings_and_separators(bob_client, encoding, separator):
    text = (
        HEADER.replace(",", separator)
        + separator.join(
            [
                "Café Crème Pty Ltd",
                "Zoë",
                "Müller",
                "zoe@creme.example.com",
                "",
                "",
                "",
                "",
                "Director",
            ]
        )
        + "\n"
    )
    _preview, done = upload_and_confirm(bob_client, text.encode(encoding))
    assert done.status_code == 302
    client = Client.objects.get()
    assert client.name == "Café Crème Pty Ltd"
    assert client.links.get().contact.name == "Zoë Müller"


def test_windows_line_endings_and_quoted_fields(bob_client):
    text = (
        HEADER.replace("\n", "\r\n") + '"Smith, Jones & Co",Ann,Smith,"ann@sj.example.com",,,,,\r\n'
    )
    _preview, done = upload_and_confirm(bob_client, text)
    assert done.status_code == 302
    assert Client.objects.get().name == "Smith, Jones & Co"


def _errors_for(http, text):
    response = upload(http, text)
    assert response.status_code == 302
    preview = http.get(response["Location"]).content.decode()
    refused = confirm(http, response["Location"], follow=True)
    return preview, refused


@pytest.mark.parametrize(
    "row,problem",
    [
        (",Ann,Smith,ann@example.com", "Client Name is missing."),
        ("Acme,,Smith,ann@example.com", "First Name is missing."),
        ("Acme,Ann,,ann@example.com", "Last Name is missing."),
        ("Acme,Ann,Smith,", "Client Email is missing."),
        (
            "Acme,Ann,Smith,not-an-email",
            "Client Email “not-an-email” is not a valid email address.",
        ),
        (
            "Acme,Ann,Smith,ann@example.com,bad@",
            "Contact Email “bad@” is not a valid email address.",
        ),
        (
            "Acme," + "A" * 300 + ",Smith,ann@example.com",
            "First Name is longer than 255 characters.",
        ),
    ],
)
def test_row_errors_are_shown_and_nothing_is_imported(bob_client, row, problem):
    text = GOOD + row + "\n"
    preview, refused = _errors_for(bob_client, text)
    assert problem in preview
    assert 'data-label="Line">5</td>' in preview  # the bad row's line number
    assert "Upload a corrected file" in preview
    assert "Nothing was imported: some rows need fixing" in refused.content.decode()
    assert Client.objects.count() == 0 and Contact.objects.count() == 0


def test_conflicting_duplicates_are_errors(bob_client):
    text = (
        GOOD
        + "Harbourline Logistics,Sam,Lee,other@harbourline.example.com\n"
        + "Daniel Whitcombe,Daniel,Whitcombe,d.whitcombe@example.net\n"
    )
    preview, refused = _errors_for(bob_client, text)
    assert "Client Email differs from row 2" in preview
    assert "Nothing was imported" in refused.content.decode()
    assert "Daniel Whitcombe is already on row 4 for this client." in preview
    assert Client.objects.count() == 0


def test_rows_for_an_xpm_client_are_errors(bob_client, firm_a):
    make_client(firm_a, "Daniel Whitcombe", source=Client.Source.XPM)
    preview, _refused = _errors_for(bob_client, GOOD)
    assert "comes from Xero Practice Manager" in preview
    assert Client.objects.count() == 1


def test_a_preview_that_no_longer_fits_imports_nothing(bob_client, firm_a):
    response = upload(bob_client, GOOD)
    plan = shown_plan(bob_client.get(response["Location"]).content.decode())
    make_client(firm_a, "Daniel Whitcombe", source=Client.Source.XPM)
    refused = bob_client.post(response["Location"] + "confirm/", {"plan": plan}, follow=True)
    assert "changed since the preview" in refused.content.decode()
    assert Client.objects.count() == 1


def test_a_failure_while_applying_leaves_nothing_behind(bob_client, firm_a, monkeypatch):
    response = upload(bob_client, GOOD)

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(csv_import, "refresh_primary_contacts", explode)
    with pytest.raises(RuntimeError):
        confirm(bob_client, response["Location"])
    assert Client.objects.count() == 0 and Contact.objects.count() == 0
    assert ClientImport.objects.get().status == "previewed"


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "The submitted file is empty."),
        (b"\n\n", "The file is empty. Download the template"),
        (
            b"Name,Email\nAcme,a@example.com\n",
            "The file has no Client Name, First Name, Last Name, Client Email columns.",
        ),
        (HEADER.encode(), "no clients under it"),
        (b"\x00\x01\x02binary\xff\xfe\x00", "not a CSV text file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a CSV text file"),
        (("x," * 5000 + "\n").encode(), "columns; a client list has at most"),
        (
            b'Client Name,First Name,Last Name,Client Email\n"' + b"a" * 200_000 + b'",b,c,d\n',
            "could not be read as CSV",
        ),
    ],
)
def test_bad_files_get_a_clear_message(bob_client, content, message):
    response = upload(bob_client, content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert ClientImport.objects.count() == 0


def test_an_excel_workbook_or_zip_renamed_csv_is_refused(bob_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("clients.csv", GOOD * 10_000)
    response = upload(bob_client, buffer.getvalue())
    assert "looks like an Excel workbook" in response.content.decode()


def test_an_oversized_file_is_refused_without_being_read(bob_client):
    big = (GOOD * 5000).encode()
    assert len(big) > csv_import.MAX_BYTES
    response = upload(bob_client, big)
    assert "larger than 1024 KB" in response.content.decode()
    assert ClientImport.objects.count() == 0


def test_too_many_rows_are_refused(bob_client):
    rows = "".join(
        f"Client {n},Ann,Smith,c{n}@example.com\n" for n in range(csv_import.MAX_ROWS + 1)
    )
    response = upload(bob_client, "Client Name,First Name,Last Name,Client Email\n" + rows)
    assert "more than 2000 rows" in response.content.decode()


def test_firm_columns_in_the_file_are_ignored(bob_client, firm_a, firm_b):
    text = (
        "Firm,Client Name,First Name,Last Name,Client Email\n"
        + f"{firm_b.pk},Acme,Ann,Smith,a@acme.example.com\n"
    )
    upload_and_confirm(bob_client, text)
    assert Client.objects.get().firm == firm_a


def test_carol_cannot_see_or_confirm_alices_import(alice_client, carol_client):
    response = upload(alice_client, GOOD)
    assert carol_client.get(response["Location"]).status_code == 404
    assert carol_client.post(response["Location"] + "confirm/").status_code == 404
    assert Client.objects.count() == 0


def test_formula_cells_are_neutralised_when_written():
    for cell in ("=SUM(A1)", "+1", "-2", "@cmd", "\tx"):
        assert csv_import.neutralise(cell).startswith("'")
    assert csv_import.neutralise("Acme") == "Acme"


def test_the_bom_is_not_part_of_the_first_header():
    rows = csv_import.read_rows(codecs.BOM_UTF8 + GOOD.encode())
    assert rows[0]["client_name"] == "Harbourline Logistics"
