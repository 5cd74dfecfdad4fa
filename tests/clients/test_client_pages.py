from clients.models import Client
from tests.factories import add_contact, make_client
from tests.queries import count_queries


def test_empty_client_list_says_how_to_get_clients(bob_client):
    content = bob_client.get("/clients/").content.decode()
    assert "No clients yet" in content
    assert "Connect Xero Practice Manager or import a CSV" in content


def test_bob_sees_only_his_firms_clients(bob_client, firm_a, firm_b):
    make_client(firm_a, "Alpha Client Ltd")
    make_client(firm_b, "Bravo Client Ltd")
    content = bob_client.get("/clients/").content.decode()
    assert "Alpha Client Ltd" in content
    assert "Bravo Client Ltd" not in content


def test_client_filters(bob_client, firm_a):
    make_client(firm_a, "Harbourline Logistics", email="accounts@harbourline.example.com")
    make_client(firm_a, "Bright Spark Electrical", is_prospect=True)
    make_client(firm_a, "Old Mill Bakery", is_archived=True)
    default = bob_client.get("/clients/").content.decode()
    assert "Harbourline" in default and "Bright Spark" not in default and "Old Mill" not in default
    prospects = bob_client.get("/clients/?show=prospects").content.decode()
    assert "Bright Spark" in prospects and "Harbourline" not in prospects
    archived = bob_client.get("/clients/?show=archived").content.decode()
    assert "Old Mill" in archived and "Harbourline" not in archived
    everything = bob_client.get("/clients/?show=all").content.decode()
    assert all(name in everything for name in ("Harbourline", "Bright Spark", "Old Mill"))


def test_search_matches_client_name_email_and_contact_names(bob_client, firm_a):
    harbour = make_client(firm_a, "Harbourline Logistics", email="accounts@harbourline.example.com")
    add_contact(harbour, "Amelia Chen")
    make_client(firm_a, "Greenfield Dental", email="reception@greenfield.example.org")
    assert "Harbourline" in bob_client.get("/clients/?q=harbour").content.decode()
    by_email = bob_client.get("/clients/?q=reception@green").content.decode()
    assert "Greenfield" in by_email and "Harbourline" not in by_email
    by_contact = bob_client.get("/clients/?q=amelia").content.decode()
    assert "Harbourline" in by_contact and "Greenfield" not in by_contact
    assert "No clients match" in bob_client.get("/clients/?q=nothing-like-this").content.decode()


def test_sorting(bob_client, firm_a):
    for name in ("banana", "Apricot", "Cherry"):
        make_client(firm_a, name)

    def order(url):
        content = bob_client.get(url).content.decode()
        content = content[content.index("<tbody>") :]
        return sorted(("Apricot", "banana", "Cherry"), key=content.index)

    assert order("/clients/") == ["Apricot", "banana", "Cherry"]
    assert order("/clients/?sort=-name") == ["Cherry", "banana", "Apricot"]
    assert order("/clients/?sort=-created") == ["Cherry", "Apricot", "banana"]
    assert order("/clients/?sort=created") == ["banana", "Apricot", "Cherry"]
    assert order("/clients/?sort=nonsense") == ["Apricot", "banana", "Cherry"]


def test_rows_show_the_primary_contact_and_an_xpm_badge(bob_client, firm_a):
    client = make_client(firm_a, "Harbourline Logistics", source=Client.Source.XPM)
    add_contact(client, "Robert Tennant", salutation="Bob", email="rob@harbourline.example.com")
    add_contact(client, "Sarah Kowalski", salutation="Sarah")
    content = bob_client.get("/clients/").content.decode()
    assert "Robert Tennant" in content and "rob@harbourline.example.com" in content
    assert "Sarah Kowalski" not in content
    assert "badge-xpm" in content


def test_pagination(bob_client, firm_a):
    for n in range(30):
        make_client(firm_a, f"Client {n:02}")
    first = bob_client.get("/clients/").content.decode()
    assert "Client 00" in first and "Client 25" not in first and "Page 1 of 2" in first
    second = bob_client.get("/clients/?page=2").content.decode()
    assert "Client 25" in second and "Client 00" not in second
    assert "Client 29" in bob_client.get("/clients/?page=99").content.decode()


def test_client_list_query_count_does_not_grow_with_rows(bob_client, firm_a):
    client = make_client(firm_a)
    add_contact(client, "Only Contact")
    few = count_queries(bob_client, "/clients/")
    for n in range(30):
        client = make_client(firm_a, f"Client {n:02}")
        add_contact(client, f"Person {n}")
        add_contact(client, f"Other {n}")
    assert count_queries(bob_client, "/clients/") == few
    assert count_queries(bob_client, "/clients/?q=person") == few


def test_a_search_that_also_matches_prospects_and_archived_clients_says_so(bob_client, firm_a):
    make_client(firm_a, "Smith Joinery")
    make_client(firm_a, "Smith Prospects Ltd", is_prospect=True)
    make_client(firm_a, "Smith Old Ltd", is_archived=True)
    make_client(firm_a, "Smith Older Ltd", is_archived=True)
    page = bob_client.get("/clients/?q=smith").content.decode()
    assert "Smith Joinery" in page and "Smith Prospects Ltd" not in page
    assert (
        '1 prospect matches — <a href="?q=smith&amp;show=prospects&amp;sort=name">show</a>' in page
    )
    assert (
        '2 archived clients match — <a href="?q=smith&amp;show=archived&amp;sort=name">show</a>'
        in page
    )
    prospects = bob_client.get("/clients/?q=smith&show=prospects&sort=name").content.decode()
    assert "Smith Prospects Ltd" in prospects
    assert "1 current client matches" in prospects and "2 archived clients match" in prospects
    assert "match —" not in bob_client.get("/clients/?q=smith&show=all").content.decode()


def test_a_search_matching_only_a_prospect_points_to_it(bob_client, firm_a):
    make_client(firm_a, "Unrelated Ltd")
    make_client(firm_a, "Greenfield Dental", is_prospect=True)
    page = bob_client.get("/clients/?q=greenfield").content.decode()
    assert "No clients match your search." in page
    assert "1 prospect matches — <a" in page


def test_the_hidden_matches_cost_no_query_however_many(
    bob_client, firm_a, django_assert_max_num_queries
):
    make_client(firm_a, "Person Co")
    few = count_queries(bob_client, "/clients/?q=person")
    for n in range(30):
        make_client(firm_a, f"Person {n:02}", is_prospect=n % 2 == 0, is_archived=n % 3 == 0)
    with django_assert_max_num_queries(few):
        page = bob_client.get("/clients/?q=person").content.decode()
    assert "prospects match" in page and "archived clients match" in page


def test_contacts_tab_lists_every_contact_with_the_primary_marked(bob_client, firm_a):
    client = make_client(firm_a, "Harbourline Logistics", source=Client.Source.XPM)
    add_contact(client, "Sarah-Jane Kowalski", salutation="Sarah-Jane", position="Director")
    add_contact(client, "Robert Tennant", salutation="Bob", position="Financial Controller")
    add_contact(client, "Amelia Chen", salutation="Ms Chen", mobile="0401 555 662")
    content = bob_client.get(f"/clients/{client.pk}/contacts/").content.decode()
    for text in (
        "Sarah-Jane Kowalski",
        "Robert Tennant",
        "Amelia Chen",
        "Financial Controller",
        "0401 555 662",
    ):
        assert text in content
    primary_row = content[content.index('class="row-primary"') :].split("</tr>")[0]
    assert "Robert Tennant" in primary_row and "Primary" in primary_row
    assert content.count("badge-primary") == 1
    assert "No contact is flagged as primary in Xero Practice Manager" in content


def test_profile_does_not_warn_when_xpm_chose_the_primary(bob_client, firm_a):
    client = make_client(firm_a, "Greenfield Dental", source=Client.Source.XPM)
    add_contact(client, "Nadia Farouk", is_xpm_primary=True)
    add_contact(client, "Liam O'Sullivan")
    content = bob_client.get(f"/clients/{client.pk}/contacts/").content.decode()
    assert "No contact is flagged" not in content


def test_profile_details_show_addresses_and_xpm_fields(bob_client, firm_a):
    client = make_client(
        firm_a,
        "Daniel Whitcombe",
        source=Client.Source.XPM,
        address="41 Jacaranda Crescent",
        city="Paddington",
        region="QLD",
        postcode="4064",
        account_manager="Priya Raman",
    )
    content = bob_client.get(f"/clients/{client.pk}/").content.decode()
    assert "41 Jacaranda Crescent<br>Paddington QLD 4064" in content
    assert "Priya Raman" in content
    assert "From Xero Practice Manager" in content


def test_profile_query_count_does_not_grow_with_contacts(bob_client, firm_a):
    client = make_client(firm_a)
    add_contact(client, "First Person")
    few = count_queries(bob_client, f"/clients/{client.pk}/contacts/")
    for n in range(10):
        add_contact(client, f"Person {n}")
    assert count_queries(bob_client, f"/clients/{client.pk}/contacts/") == few


def test_client_pages_are_not_cached(bob_client, alice_firm_client_record):
    for url in ("/clients/", f"/clients/{alice_firm_client_record.pk}/"):
        assert "no-store" in bob_client.get(url)["Cache-Control"]


def test_missing_client_is_404(bob_client, db):
    assert bob_client.get("/clients/999999/").status_code == 404
