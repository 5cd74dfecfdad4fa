"""CSV headers and line numbers, how long import rows are kept, and header-safe emails."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from clients import csv_import
from clients.emailing import email_client
from clients.models import Client, ClientImport
from clients.tasks import delete_abandoned_imports
from tests.clients.test_csv_import import GOOD, HEADER, confirm, upload
from tests.factories import add_contact, make_client

REQUIRED = "Client Name,First Name,Last Name,Client Email\n"


def test_a_file_with_two_columns_of_one_title_is_refused(bob_client):
    text = "Client Name,First Name,Last Name,Client Email,client_name\nAcme,Ann,Smith,a@x.com,Zed\n"
    response = upload(bob_client, text)
    assert response.status_code == 200
    page = response.content.decode()
    assert "more than one column with the same title" in page
    assert "(columns 1, 5)" in page
    assert ClientImport.objects.count() == 0


def test_empty_header_cells_are_not_duplicates(bob_client):
    response = upload(bob_client, REQUIRED.strip() + ",,\nAcme,Ann,Smith,a@acme.example.com,,\n")
    assert response.status_code == 302


def test_columns_the_portal_does_not_import_are_listed_on_the_preview(bob_client):
    text = "Notes,Client Name,First Name,Last Name,Client Email,Mobile Phone\n"
    text += "VIP,Acme,Ann,Smith,a@acme.example.com,0400 000 000\n"
    response = upload(bob_client, text)
    preview = bob_client.get(response["Location"]).content.decode()
    assert "2 columns will not be imported:</strong> Notes, Mobile Phone." in preview
    assert ClientImport.objects.get().ignored_columns == ["Notes", "Mobile Phone"]


def test_a_file_of_template_columns_lists_none(bob_client):
    response = upload(bob_client, GOOD)
    assert "will not be imported" not in bob_client.get(response["Location"]).content.decode()


def test_errors_name_the_files_own_lines_past_cells_with_line_breaks(bob_client):
    text = (
        HEADER
        + 'Acme,Ann,Smith,a@acme.example.com,,,,,"Director\nand Secretary"\n'  # lines 2-3
        + "\n"  # line 4, blank
        + 'Bolt,Bo,"Jones\r\nJunior",bolt@\n'  # lines 5-6
        + "Crane,Cy,Cole,not-an-email\n"  # line 7
    )
    response = upload(bob_client, text)
    plan = bob_client.get(response["Location"]).context["plan"]
    assert plan.errors == [
        (5, "Client Email “bolt@” is not a valid email address."),
        (7, "Client Email “not-an-email” is not a valid email address."),
    ]
    assert [client.rows for client in plan.clients] == [[2]]


def test_the_rows_of_an_applied_import_are_deleted(bob_client):
    response = upload(bob_client, GOOD)
    assert ClientImport.objects.get().rows
    confirm(bob_client, response["Location"])
    applied = ClientImport.objects.get()
    assert applied.status == ClientImport.Status.APPLIED
    assert applied.rows == []
    assert applied.summary["clients_created"] == 2
    summary = bob_client.get(response["Location"], follow=True).content.decode()
    assert "2</strong> new clients created" in summary


def _preview(bob, hours_old: float, **fields) -> ClientImport:
    created_at = timezone.now() - timedelta(hours=hours_old)
    rows = csv_import.read_rows(GOOD.encode())
    return ClientImport.objects.create(
        firm=bob.firm, created_by=bob, filename="a.csv", rows=rows, created_at=created_at, **fields
    )


def test_previews_abandoned_for_a_day_are_deleted_by_the_scheduled_task(bob):
    abandoned = _preview(bob, 25)
    recent = _preview(bob, 23)
    applied = _preview(bob, 48, status=ClientImport.Status.APPLIED)
    assert delete_abandoned_imports.delay().get() == 1
    assert not ClientImport.objects.filter(pk=abandoned.pk).exists()
    assert set(ClientImport.objects.values_list("pk", flat=True)) == {recent.pk, applied.pk}


def test_the_cleanup_runs_hourly_in_beat():
    from gapportal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["delete-abandoned-imports"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 3600


def test_the_next_upload_deletes_abandoned_previews_too(bob_client, bob, carol):
    abandoned = _preview(carol, 30)
    upload(bob_client, GOOD)
    assert not ClientImport.objects.filter(pk=abandoned.pk).exists()
    assert ClientImport.objects.count() == 1


@pytest.mark.parametrize(
    "subject",
    [
        "Your return\r\nBcc: everyone@example.net",
        "Line one\nline two",
        "Split\u2028here",
        "Bell\x07",
    ],
)
def test_a_subject_with_a_line_break_gets_a_form_error_not_a_500(bob_client, firm_a, subject):
    client = make_client(firm_a, "Harbourline", email="accounts@harbourline.example.com")
    response = bob_client.post(
        f"/clients/{client.pk}/email/", {"subject": subject, "message": "Hello"}
    )
    assert response.status_code == 200
    assert "Write the subject on one line" in response.content.decode()
    assert mail.outbox == []


def test_the_email_service_folds_line_breaks_out_of_a_subject(bob, firm_a):
    client = make_client(firm_a, "Harbourline", email="accounts@harbourline.example.com")
    email_client(client, sender=bob, subject="Your return\r\nBcc: x@example.net", message="Hi")
    assert mail.outbox[0].subject == "Your return Bcc: x@example.net"
    assert mail.outbox[0].bcc == []


def test_a_recipient_address_with_a_line_break_is_reported_not_a_500(bob_client, firm_a):
    client = make_client(firm_a, "Broken Ltd", source=Client.Source.XPM)
    add_contact(client, "Ann Smith", email="ann@example.com\nBcc: x@example.net")
    page = bob_client.get(f"/clients/{client.pk}/email/").content.decode()
    assert "is not valid" in page and "Edit the client to correct it" in page
    response = bob_client.post(f"/clients/{client.pk}/email/", {"subject": "Hi", "message": "Hi"})
    assert response.status_code == 200
    assert mail.outbox == []
