"""The CSV preview and the summary agree: valid rows only, one way of counting, no stale plan."""

from accounts.models import AuditEvent
from clients import csv_import
from clients.models import Client, ClientImport, Contact
from tests.clients.test_csv_import import GOOD, HEADER, confirm, shown_plan, upload
from tests.factories import add_contact, make_client


def _line(*parts: str) -> str:
    """A summary line as the page writes it: "<strong>2</strong> new clients · ..."."""
    return " · ".join(parts)


def _n(number: int, text: str) -> str:
    return f"<strong>{number}</strong> {text}"


REQUIRED = "Client Name,First Name,Last Name,Client Email\n"


def _preview(http, text):
    location = upload(http, text)["Location"]
    return location, http.get(location)


def test_a_row_in_error_is_never_planned_nor_counted(bob_client):
    _location, preview = _preview(bob_client, GOOD + "Blue Gum Joinery,Ray,Lee,ray-at-example\n")
    plan = preview.context["plan"]
    assert [client.name for client in plan.clients] == ["Harbourline Logistics", "Daniel Whitcombe"]
    assert plan.counts == csv_import.ImportCounts(2, 0, 3)
    content = preview.content.decode()
    assert (
        "2</strong> new clients" in content and "Blue Gum Joinery" not in content.split("<h2>")[-1]
    )


def test_a_client_that_exists_with_another_email_is_an_error_not_a_new_client(bob_client, firm_a):
    make_client(firm_a, "Daniel Whitcombe", email="daniel@elsewhere.example.net")
    _location, preview = _preview(bob_client, GOOD)
    plan = preview.context["plan"]
    assert plan.errors == [
        (4, "Daniel Whitcombe already exists with the email daniel@elsewhere.example.net.")
    ]
    assert plan.counts.clients_created == 1 and plan.counts.clients_matched == 0


def test_the_summary_counts_as_the_preview_did(bob_client):
    location, preview = _preview(bob_client, GOOD)
    assert (
        _line(_n(2, "new clients"), _n(0, "existing clients matched"), _n(3, "contacts to add"))
        in preview.content.decode()
    )
    done = confirm(bob_client, location, follow=True).content.decode()
    assert (
        _line(
            _n(2, "new clients created"), _n(0, "existing clients matched"), _n(3, "contacts added")
        )
        in done
    )
    assert ClientImport.objects.get().summary == {
        "clients_created": 2,
        "clients_matched": 0,
        "contacts_created": 3,
    }
    assert AuditEvent.objects.get(action="csv_imported").detail.endswith(
        "2 clients created, 0 matched, 3 contacts added"
    )


def test_matched_clients_are_counted_apart_from_new_ones(bob_client, firm_a):
    harbour = make_client(firm_a, "Harbourline Logistics", email="accounts@harbourline.example.com")
    add_contact(harbour, "Amelia Chen")
    location, preview = _preview(bob_client, GOOD)
    content = preview.content.decode()
    assert (
        _line(
            _n(1, "new client"),
            _n(1, "existing client matched"),
            _n(2, "contacts to add"),
            _n(1, "already there"),
        )
        in content
    )
    assert "Import 1 client and 2 contacts" in content
    done = confirm(bob_client, location, follow=True).content.decode()
    assert (
        _line(
            _n(1, "new client created"), _n(1, "existing client matched"), _n(2, "contacts added")
        )
        in done
    )


def test_a_second_preview_of_the_same_file_is_refused_once_the_first_was_applied(bob_client):
    first, _ = _preview(bob_client, GOOD)
    second, second_page = _preview(bob_client, GOOD)
    shown = shown_plan(second_page.content.decode())
    assert "Import 2 clients and 3 contacts" in second_page.content.decode()
    confirm(bob_client, first)
    refused = bob_client.post(second + "confirm/", {"plan": shown}, follow=True)
    assert refused.redirect_chain[-1][0] == second
    content = refused.content.decode()
    assert "your client list changed since this preview was shown" in content
    assert "There is nothing to import" in content
    assert "Import 0" not in content
    assert Client.objects.count() == 2 and Contact.objects.count() == 3
    assert ClientImport.objects.get(pk=second.rstrip("/").split("/")[-1]).status == "previewed"


def test_a_preview_applied_after_the_client_list_changed_is_refused(bob_client, firm_a):
    location, page = _preview(bob_client, GOOD)
    shown = shown_plan(page.content.decode())
    make_client(firm_a, "Daniel Whitcombe")  # added by hand meanwhile, no email: it would match
    refused = bob_client.post(location + "confirm/", {"plan": shown}, follow=True)
    assert "changed since this preview was shown" in refused.content.decode()
    assert (
        "<strong>1</strong> new client · <strong>1</strong> existing client matched"
        in refused.content.decode()
    )
    assert Client.objects.count() == 1


def test_a_confirmation_without_the_shown_plan_imports_nothing(bob_client):
    location, _page = _preview(bob_client, GOOD)
    bob_client.post(location + "confirm/")
    assert Client.objects.count() == 0


def test_a_file_with_nothing_new_offers_no_import_button(bob_client, firm_a):
    client = make_client(firm_a, "Daniel Whitcombe", email="d.whitcombe@example.net")
    add_contact(client, "Daniel Whitcombe")
    location, page = _preview(
        bob_client, REQUIRED + "Daniel Whitcombe,Daniel,Whitcombe,d.whitcombe@example.net\n"
    )
    content = page.content.decode()
    assert "There is nothing to import" in content
    assert 'name="plan"' not in content and "Import 0" not in content
    refused = bob_client.post(
        location + "confirm/", {"plan": page.context["plan"].fingerprint}, follow=True
    )
    assert "nothing to import" in refused.content.decode()


def test_each_contacts_own_email_in_client_email_is_understood_and_said(bob_client, firm_a):
    text = (
        REQUIRED
        + "Harbourline Logistics,Robert,Tennant,rob@harbourline.example.com\n"
        + "Harbourline Logistics,Amelia,Chen,amelia@harbourline.example.com\n"
    )
    location, page = _preview(bob_client, text)
    content = page.content.decode()
    assert page.context["plan"].errors == []
    assert (
        "Harbourline Logistics has a different Client Email on each row, so the portal takes each "
        "as that contact’s own email and leaves the client’s email empty"
    ) in content
    confirm(bob_client, location)
    harbour = Client.objects.get(name="Harbourline Logistics")
    assert harbour.email == ""
    assert set(harbour.links.values_list("contact__name", "contact__email")) == {
        ("Robert Tennant", "rob@harbourline.example.com"),
        ("Amelia Chen", "amelia@harbourline.example.com"),
    }


def test_differing_client_emails_beside_other_contact_emails_are_explained(bob_client):
    text = (
        HEADER
        + "Harbourline Logistics,Robert,Tennant,accounts@harbourline.example.com,rob@h.example\n"
        + "Harbourline Logistics,Amelia,Chen,other@harbourline.example.com,amelia@h.example\n"
    )
    _location, page = _preview(bob_client, text)
    (error,) = page.context["plan"].errors
    assert error == (
        3,
        "Client Email differs from row 2 (accounts@harbourline.example.com). Use one Client "
        "Email on every row of a client, and put each person’s own address in Contact Email.",
    )
