import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse

from . import mfa
from .throttle import client_ip

security_log = logging.getLogger("accounts.security")

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


# What a user may reach before their session is verified with a code or a passkey.
VERIFY_ALLOWED = {
    "accounts:mfa-verify",
    "accounts:logout",
    "accounts:passkey-auth-begin",
    "accounts:passkey-auth-complete",
    "accounts:passkey-strings",
}
# What a user who must enrol may reach before enrolling (a passkey needs the password again
# when the login was long ago: "Confirm it's you").
ENROL_ALLOWED = {
    "accounts:mfa",
    "accounts:logout",
    "accounts:password-change",
    "help",
    "accounts:sudo-confirm",
    "accounts:passkey-register-begin",
    "accounts:passkey-register-complete",
    "accounts:passkey-strings",
}


class MfaEnforcementMiddleware:
    """The one choke point for MFA, on every request.

    A user with MFA whose session is not verified reaches only the code page. A user who must
    have MFA (the firm requires it, an admin reset it, or they operate the platform) but has none
    reaches only Configure MFA, password change, help and logout. Other HTML requests are
    redirected there; anything else gets 403. The check reads the database each time, so it
    holds for sessions that began before the requirement did.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or user.is_verified() or _is_static(request):
            return self.get_response(request)
        url_name = _url_name(request)
        if mfa.has_mfa(user):
            if url_name in VERIFY_ALLOWED:
                return self.get_response(request)
            return _send_to(request, "accounts:mfa-verify", None)
        if user.mfa_required and url_name not in ENROL_ALLOWED:
            return _send_to(request, "accounts:mfa", user.mfa_required_reason)
        return self.get_response(request)


def _is_static(request: HttpRequest) -> bool:
    return request.path.startswith("/" + settings.STATIC_URL.lstrip("/"))


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return None


def _send_to(request: HttpRequest, url_name: str, reason: str | None) -> HttpResponse:
    # The page we send them to explains why; only non-HTML clients get the reason here.
    if not request.accepts("text/html"):
        return HttpResponseForbidden(reason or "Verify your session with a code first.")
    url = reverse(url_name)
    if request.method == "GET" and request.path != "/":
        url += "?" + urlencode({"next": request.get_full_path()})
    return redirect(url)


class ForbiddenLogMiddleware:
    """Logs every 403 as a WARNING with who asked for what: refused requests are worth watching.

    It sits just inside the authentication middleware, so it sees the 403s of views, of the
    CSRF check and of the MFA middleware alike.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            is_signed_in = user is not None and user.is_authenticated
            security_log.warning(
                "403 Forbidden: user_id=%s firm_id=%s method=%s path=%s ip=%s",
                getattr(user, "pk", None) if is_signed_in else None,
                getattr(user, "firm_id", None) if is_signed_in else None,
                request.method,
                request.path,
                client_ip(request),
            )
        return response
