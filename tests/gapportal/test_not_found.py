"""Unknown addresses show the portal's own "Page not found", never Django's list of URLs."""

import pytest

from tests.factories import make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_on(settings):
    # The built-in setup runs with DEBUG on; that is where Django's debug page would show.
    settings.DEBUG = True
    settings.SHOW_DEBUG_404 = False


def test_an_unknown_address_with_debug_on_shows_the_portals_page(debug_on, alice_client):
    response = alice_client.get("/no-such-page/")
    content = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in content
    assert "Using the URLconf" not in content
    assert "platform-admin/" not in content


def test_a_missing_object_with_debug_on_shows_the_portals_page(debug_on, alice_client, carol):
    carols = make_client(carol.firm, "Carol's client")
    response = alice_client.get(f"/clients/{carols.pk}/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.content.decode()
    assert "Raised by" not in response.content.decode()


def test_a_signed_out_visitor_gets_the_portals_page_too(debug_on, client):
    response = client.get("/static-nothing/here")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "URLconf" not in response.content.decode()


def test_a_developer_can_ask_for_djangos_debug_page(settings, alice_client):
    settings.DEBUG = True
    settings.SHOW_DEBUG_404 = True
    response = alice_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "URLconf" in response.content.decode()


def test_with_debug_off_the_portals_page_shows(alice_client):
    response = alice_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.content.decode()


def test_a_missing_trailing_slash_still_redirects(debug_on, alice_client):
    response = alice_client.get("/clients")
    assert response.status_code == 301
    assert response["Location"] == "/clients/"
