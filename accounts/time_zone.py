"""Dates and times in the firm's own time zone, on every page a firm member opens."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class FirmTimeZoneMiddleware:
    """Activates the signed-in member's firm's zone for the request: templates, forms, localtime.

    Everyone else (the login page, platform operators) sees the site's ``TIME_ZONE``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.firm_id is not None:
            timezone.activate(user.firm.zoneinfo)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
