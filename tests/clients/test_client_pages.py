from tests.factories import make_client
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


def test_client_search_and_filters(bob_client, firm_a):
    make_client(firm_a, "Harbourline Logistics", email="accounts@harbourline.example.com")
    make_client(firm_a, "Bright Spark Electrical", is_prospect=True)
    make_client(firm_a, "Old Mill Bakery", is_archived=True)
    default = bob_client.get("/clients/").content.decode()
    assert "Harbourline" in default and "Bright Spark" not in default and "Old Mill" not in default
    assert "Bright Spark" in bob_client.get("/clients/?show=prospects").content.decode()
    assert "Old Mill" in bob_client.get("/clients/?show=archived").content.decode()
    by_email = bob_client.get("/clients/?q=harbourline.example").content.decode()
    assert "Harbourline" in by_email
    assert "No clients match" in bob_client.get("/clients/?q=nothing-like-this").content.decode()


def test_client_list_query_count_does_not_grow_with_rows(bob_client, firm_a):
    make_client(firm_a)
    few = count_queries(bob_client, "/clients/")
    for n in range(30):
        make_client(firm_a, f"Client {n:02}")
    assert count_queries(bob_client, "/clients/") == few
    assert "Page 1 of 2" in bob_client.get("/clients/").content.decode()


def test_bob_opens_a_client_profile(bob_client, alice_firm_client_record):
    response = bob_client.get(f"/clients/{alice_firm_client_record.pk}/")
    assert response.status_code == 200
    assert "Harbourline Logistics Pty Ltd" in response.content.decode()


def test_missing_client_is_404(bob_client, db):
    assert bob_client.get("/clients/999999/").status_code == 404


def test_manage_clients_is_for_admins(alice_client, firm_a):
    make_client(firm_a)
    response = alice_client.get("/clients/manage/")
    assert response.status_code == 200
    assert "1 active client" in response.content.decode()
