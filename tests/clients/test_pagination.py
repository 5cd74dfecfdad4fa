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
