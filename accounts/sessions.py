"""What happens to the session at each authentication step (views call these, services don't)."""

import time

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User

PASSWORD_CONFIRMED_AT = "password_confirmed_at"  # noqa: S105 (a session key name)


def note_password_entered(request: HttpRequest) -> None:
    request.session[PASSWORD_CONFIRMED_AT] = int(time.time())


def password_entered_recently(request: HttpRequest) -> bool:
    entered_at = request.session.get(PASSWORD_CONFIRMED_AT, 0)
    return time.time() - entered_at < settings.RECENT_PASSWORD_SECONDS


def mark_verified(request: HttpRequest, device: TOTPDevice) -> None:
    """Record the second factor, with a new session key and CSRF token.

    django-otp's login() keeps the session key, which would let a key planted before the
    second factor survive it.
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
