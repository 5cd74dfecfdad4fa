"""Cache-Control on signed-in pages, and no Referer from the OAuth callback."""

from django.http import HttpResponse
from django.test import RequestFactory

from gapportal.middleware import PrivatePageHeadersMiddleware


def test_signed_in_pages_are_never_stored(alice_client):
    for url in ("/help/", "/accounts/settings/", "/clients/import/template.csv"):
        response = alice_client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_pages_for_visitors_who_are_not_signed_in_may_be_cached(client, db):
    assert "Cache-Control" not in client.get("/help/")


def test_a_view_that_sets_its_own_cache_control_keeps_it(alice):
    request = RequestFactory().get("/help/")
    request.user = alice

    def view(_request):
        response = HttpResponse("ok")
        response["Cache-Control"] = "private, max-age=60"
        return response

    response = PrivatePageHeadersMiddleware(view)(request)
    assert response["Cache-Control"] == "private, max-age=60"


def test_the_oauth_callback_sends_no_referrer(alice_client, client):
    response = alice_client.get("/xpm/callback/", {"code": "secret-code", "state": "wrong"})
    assert response["Referrer-Policy"] == "no-referrer"
    # Also when the login check answers before the view runs.
    response = client.get("/xpm/callback/", {"code": "secret-code", "state": "wrong"})
    assert response.status_code == 302
    assert response["Referrer-Policy"] == "no-referrer"


def test_other_pages_keep_the_same_origin_referrer_policy(alice_client):
    assert alice_client.get("/xpm/")["Referrer-Policy"] == "same-origin"
