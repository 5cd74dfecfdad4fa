"""The portal's own "Page not found", also with DEBUG on (the built-in setup)."""

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve


class PortalNotFoundMiddleware:
    """With DEBUG on, answer 404 with templates/404.html rather than Django's debug page, which
    lists every URL pattern of the portal. Off when ``SHOW_DEBUG_404`` is set; with DEBUG off
    Django renders 404.html itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._active():
            try:
                resolve(request.path_info)
            except Resolver404:
                return _not_found(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if self._active() and isinstance(exception, Http404):
            return _not_found(request)
        return None

    @staticmethod
    def _active() -> bool:
        return settings.DEBUG and not settings.SHOW_DEBUG_404


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "404.html", status=404)
