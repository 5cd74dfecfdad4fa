"""Response headers that depend on who asked, and for which page."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers

# Pages whose address carries secrets (the OAuth callback's code and state): the next page must
# not send it on as a Referer, even on this site.
NO_REFERRER_URL_NAMES = {"xpmsync:callback"}


class PrivatePageHeadersMiddleware:
    """Signed-in pages are never stored by browsers or proxies; the OAuth callback leaks no Referer.

    A view that sets its own Cache-Control keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        if _url_name(request) in NO_REFERRER_URL_NAMES:
            response.headers["Referrer-Policy"] = "no-referrer"
        return response


def _url_name(request: HttpRequest) -> str | None:
    # Set once the view was resolved; a middleware that answered first leaves it unset.
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
    return match.view_name
