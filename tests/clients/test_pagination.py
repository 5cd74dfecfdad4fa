"""The client list's paginator reads back-half pages from the end; they must be the same pages."""

import pytest
from django.db.models.functions import Lower

from clients.models import Client
from clients.pagination import FromEitherEndPaginator
from tests.factories import make_client


@pytest.mark.parametrize("orphans", [0, 3])
@pytest.mark.parametrize("ordering", [[Lower("name"), "id"], [Lower("name").desc(), "-id"]])
def test_every_page_holds_what_a_plain_slice_would(firm_a, ordering, orphans):
    # Names repeat, so the tie-breaking id decides part of the order.
    for n in range(53):
        make_client(firm_a, f"Client {n % 20:02}")
    clients = Client.objects.for_firm(firm_a).order_by(*ordering)
    expected = [c.pk for c in clients]
    paginator = FromEitherEndPaginator(clients, 10, orphans=orphans)
    pages = [[c.pk for c in paginator.page(n)] for n in paginator.page_range]
    assert [pk for page in pages for pk in page] == expected
    assert all(len(page) == 10 for page in pages[:-1])


def test_a_back_half_page_steps_over_fewer_rows(firm_a, django_assert_num_queries):
    for n in range(40):
        make_client(firm_a, f"Client {n:02}")
    paginator = FromEitherEndPaginator(Client.objects.for_firm(firm_a), 10)
    paginator.count  # noqa: B018 (counted once, as the view does)
    with django_assert_num_queries(1) as captured:
        page = paginator.page(4)
    assert "OFFSET" not in captured.captured_queries[0]["sql"]
    assert [c.name for c in page] == [f"Client {n:02}" for n in range(30, 40)]


@pytest.mark.parametrize("materialise_up_to", [10_000, 2])
def test_a_search_finds_the_same_clients_as_ids_or_as_a_subquery(
    firm_a, firm_b, monkeypatch, materialise_up_to
):
    from clients import search as client_search
    from tests.factories import add_contact

    monkeypatch.setattr(client_search, "MATERIALISE_UP_TO", materialise_up_to)
    make_client(firm_a, "Smithson Joinery")
    make_client(firm_a, "Quay Traders", email="ap@smithfield.example.com")
    add_contact(make_client(firm_a, "Harbour Dental"), "Jo Smith")
    make_client(firm_a, "Smith Archive", is_archived=True)
    make_client(firm_b, "Smith & Sons (another firm)")
    make_client(firm_a, "Unrelated Ltd")
    search = client_search.search_clients(firm_a, q="smith")
    found = search.clients
    assert [c.name for c in found] == ["Harbour Dental", "Quay Traders", "Smithson Joinery"]
    assert search.count == 3
    assert search.elsewhere == {"archived": 1}
    archived = client_search.search_clients(firm_a, q="smith", show="archived")
    assert [c.name for c in archived.clients] == ["Smith Archive"]
