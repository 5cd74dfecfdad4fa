import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

# The last-activity stamp is refreshed at most this often, so browsing does not write the
# session on every request.
_ACTIVITY_RESOLUTION = 60


class SessionLifetimeMiddleware:
    """Ends a logged-in session after 30 idle minutes or 12 hours in all, whichever comes first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started_at = session.setdefault("started_at", now)
            last_seen_at = session.get("last_seen_at", now)
            if now - last_seen_at > settings.SESSION_IDLE_TIMEOUT:
                return self._expire(request, "You were logged out after 30 minutes of inactivity.")
            if now - started_at > settings.SESSION_COOKIE_AGE:
                return self._expire(
                    request, "Your session ended after 12 hours. Please log in again."
                )
            if now - last_seen_at >= _ACTIVITY_RESOLUTION or "last_seen_at" not in session:
                session["last_seen_at"] = now
        return self.get_response(request)

    def _expire(self, request: HttpRequest, message: str) -> HttpResponse:
        logout(request)
        messages.info(request, message)
        return redirect(settings.LOGIN_URL)
