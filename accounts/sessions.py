"""Sessions: what happens to one at each authentication step, and a user's signed-in sessions.

The first half is for views (it takes the request). The second half keeps a ``UserSession``
row for every signed-in session, so User Settings > Your sessions can list them and end any one
of them by deleting it from the session store.
"""

import ipaddress
import time
from collections.abc import Callable
from importlib import import_module
from typing import cast

from django.conf import settings
from django.contrib.auth import (
    HASH_SESSION_KEY,
    SESSION_KEY,
    update_session_auth_hash,
    user_logged_in,
    user_logged_out,
)
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.models import Device

from . import audit
from .http import AuthenticatedHttpRequest
from .models import AuditEvent, User, UserSession
from .throttle import client_ip

PASSWORD_CONFIRMED_AT = "password_confirmed_at"  # noqa: S105 (a session key name)


def note_password_entered(request: HttpRequest) -> None:
    request.session[PASSWORD_CONFIRMED_AT] = int(time.time())


def password_entered_recently(request: HttpRequest) -> bool:
    entered_at = request.session.get(PASSWORD_CONFIRMED_AT, 0)
    return time.time() - entered_at < settings.RECENT_PASSWORD_SECONDS


def mark_verified(request: HttpRequest, device: Device) -> None:
    """Record the second factor (a code or a passkey), with a new session key and CSRF token.

    django-otp's login() keeps the session key, which would let a key planted before the
    second factor survive it; django-otp-webauthn's views call it the same way.
    """
    otp_login(request, device)
    request.session.cycle_key()
    rotate_token(request)


def keep_only_this_session(request: HttpRequest, user: User) -> None:
    """After the user's session generation moved on, carry this session over to it."""
    update_session_auth_hash(request, user)


def safe_next_url(request: HttpRequest) -> str:
    """Where to go after a login step: ``next`` if it stays on this site, else home."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return next_url
    return reverse(settings.LOGIN_REDIRECT_URL)


# --- Signed-in sessions -------------------------------------------------------------------------

# Kept in the session's own data: which UserSession row describes it, the session key that row
# holds (the key changes at login, at the second factor and at a password change), and when the
# row's last_seen_at was last written.
RECORD_ID = "session_record_id"
RECORD_KEY = "session_record_key"
RECORD_SEEN_AT = "session_record_seen_at"
# last_seen_at is written at most this often, so browsing does not write a row per request.
SEEN_RESOLUTION = 60


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _address(request: HttpRequest) -> str | None:
    address = client_ip(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _record(request: HttpRequest, user: User) -> None:
    """Describe the request's session in a UserSession row, and remember the row in it."""
    session = request.session
    if session.session_key is None:
        # login() flushed a session of someone else: it needs its key now to be found later.
        session.save()
    record, _created = UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "ip_address": _address(request),
            "last_seen_at": timezone.now(),
        },
    )
    session[RECORD_ID] = record.pk
    session[RECORD_KEY] = session.session_key
    session[RECORD_SEEN_AT] = int(time.time())


@receiver(user_logged_in, dispatch_uid="accounts.sessions.record_sign_in")
def _record_sign_in(sender, request: HttpRequest | None, user: User, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        _record(request, user)


@receiver(user_logged_out, dispatch_uid="accounts.sessions.forget_sign_out")
def _forget_sign_out(sender, request: HttpRequest | None, user: User | None, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    UserSession.objects.filter(
        Q(pk=request.session.get(RECORD_ID)) | Q(session_key=request.session.session_key or "")
    ).delete()


class SessionRecordMiddleware:
    """Keeps the signed-in session's row current: its session key, and last seen each minute."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After the view: a logout has made the user anonymous, a login or a second factor has
        # given the session a new key.
        if request.user.is_authenticated and request.session.session_key:
            _follow(cast(AuthenticatedHttpRequest, request))
        return response


def _follow(request: AuthenticatedHttpRequest) -> None:
    session = request.session
    now = int(time.time())
    key_changed = session.get(RECORD_KEY) != session.session_key
    if not key_changed and now - session.get(RECORD_SEEN_AT, 0) < SEEN_RESOLUTION:
        return
    record_id = session.get(RECORD_ID) or 0
    updated = UserSession.objects.filter(pk=record_id, user=request.user).update(
        session_key=session.session_key, last_seen_at=timezone.now()
    )
    if updated:
        session[RECORD_KEY] = session.session_key
        session[RECORD_SEEN_AT] = now
    else:
        # A session from before sessions were recorded, or one whose row a listing dropped
        # while its key was changing: describe it afresh.
        _record(request, request.user)


def _is_alive(record: UserSession, user: User) -> bool:
    """Whether the session store still holds this session, signed in as ``user`` and in time."""
    data = _session_store()(session_key=record.session_key).load()
    if data.get(SESSION_KEY) != str(user.pk):
        return False
    if not constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return False
    now = int(time.time())
    if now - data.get("last_seen_at", now) > settings.SESSION_IDLE_TIMEOUT:
        return False
    return now - data.get("started_at", now) <= settings.SESSION_COOKIE_AGE


def signed_in_sessions(user: User) -> list[UserSession]:
    """The user's sessions that still work, most recently seen first; rows of ended ones go."""
    records = list(UserSession.objects.filter(user=user))
    alive = [record for record in records if _is_alive(record, user)]
    ended = [record.pk for record in records if record not in alive]
    if ended:
        UserSession.objects.filter(pk__in=ended).delete()
    return alive


def end_session(record: UserSession) -> None:
    """End one session at once: deleted from the session store, so its next request is anonymous."""
    _session_store()().delete(record.session_key)
    record.delete()


def end_other_sessions(user: User, *, keep: int | None) -> int:
    """End every session of the user but the one described by row ``keep``; returns how many.

    Sessions the portal has no row for (begun before sessions were recorded) end too: the
    user's session generation moves on, so the caller must carry the kept session over to it
    (``keep_only_this_session``).
    """
    others = list(UserSession.objects.filter(user=user).exclude(pk=keep or 0))
    store = _session_store()()
    with transaction.atomic():
        for record in others:
            store.delete(record.session_key)
        UserSession.objects.filter(pk__in=[record.pk for record in others]).delete()
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["password", "session_generation"])
    return len(others)


def end_all_sessions(user: User, *, by: User) -> int:
    """An admin ends every session of ``user`` in their firm; recorded in the audit log."""
    count = end_other_sessions(user, keep=None)
    audit.record(
        user.firm, AuditEvent.Action.USER_CHANGED, actor=by, detail=f"{user.email}: sessions ended"
    )
    return count


def current_record_id(request: HttpRequest) -> int | None:
    """The row describing the request's own session."""
    return request.session.get(RECORD_ID)


# Tokens that name a browser, most specific first: Edge, Opera and Samsung Internet also say
# "Chrome", and every browser built on WebKit says "Safari".
_BROWSERS = (
    (("Edg/", "EdgA/", "EdgiOS/"), "Edge"),
    (("OPR/", "Opera"), "Opera"),
    (("SamsungBrowser/",), "Samsung Internet"),
    (("Firefox/", "FxiOS/"), "Firefox"),
    (("CriOS/", "Chrome/", "Chromium/"), "Chrome"),
    (("Safari/",), "Safari"),
)
_SYSTEMS = (
    (("iPhone",), "iPhone"),
    (("iPad",), "iPad"),
    (("Android",), "Android"),
    (("CrOS",), "ChromeOS"),
    (("Windows",), "Windows"),
    (("Macintosh", "Mac OS X"), "macOS"),
    (("Linux",), "Linux"),
)


def browser_label(user_agent: str) -> str:
    """A short name for the browser and system in a User-Agent, e.g. "Firefox on Windows".

    Only the common browsers are named; anything else shows its first product token (such as
    "curl"), so an unexpected client stands out rather than passing for a browser.
    """
    browser = next((name for tokens, name in _BROWSERS if any(t in user_agent for t in tokens)), "")
    system = next((name for tokens, name in _SYSTEMS if any(t in user_agent for t in tokens)), "")
    if not browser:
        product = user_agent.split("/", 1)[0].strip()
        browser = product[:40] if product and product.isprintable() else "Unknown browser"
    return f"{browser} on {system}" if system else browser
