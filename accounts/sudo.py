"""Sudo mode for dangerous admin actions, on GitHub's model.

Resetting another user's MFA, deleting or deactivating a user, changing a role (and, applied by
the Xero views, disconnecting Xero and "Apply anyway" on a held sync) need a session in sudo
mode: verified with a code when the admin has MFA, and with the password or a code entered in
the last 10 minutes (``RECENT_PASSWORD_SECONDS``; logging in counts). Otherwise the admin is sent
to "Confirm it's you" and then back to where they were; a POST is not replayed, they are sent
back to the page holding its form and submit it again.

In a firm that requires MFA an admin without it never gets this far (the MFA middleware confines
them to Configure MFA); in a firm that does not, sudo mode means the recent password.

Usage::

    @require_POST
    @firm_admin_required
    @sudo_required
    def disconnect(request): ...

    def apply_anyway(request, pk):
        run = get_run_for_admin(request, pk)  # another firm's id: 404 first
        if (confirm := confirm_first(request)) is not None:
            return confirm
        ...

    if changes_are_dangerous and not is_sudo(request):
        return redirect_to_confirm(request, request.get_full_path())
"""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from . import mfa
from .sessions import password_entered_recently

View = Callable[..., HttpResponse]

CODE_CONFIRMED_AT = "sudo_code_confirmed_at"
CONFIRM_MESSAGE = "Confirm it’s you to continue: this action needs your password or a code."


def note_code_entered(request: HttpRequest) -> None:
    """A TOTP or backup code was just accepted for this session's user."""
    request.session[CODE_CONFIRMED_AT] = int(time.time())


def _code_entered_recently(request: HttpRequest) -> bool:
    entered_at = request.session.get(CODE_CONFIRMED_AT, 0)
    return time.time() - entered_at < settings.RECENT_PASSWORD_SECONDS


def is_sudo(request: HttpRequest) -> bool:
    """Whether the signed-in user may take a dangerous action now, without confirming again."""
    user = request.user
    if not user.is_authenticated:
        return False
    if mfa.has_mfa(user) and not user.is_verified():
        return False
    return password_entered_recently(request) or _code_entered_recently(request)


def _is_safe(request: HttpRequest, url: str) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(
        url, {request.get_host()}, request.is_secure()
    )


def return_url(request: HttpRequest) -> str:
    """Where to come back to after confirming: this page for a GET; for a POST, the page that
    held the form (a posted ``next``, else the Referer, if on this site), else home."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    for candidate in (request.POST.get("next", ""), request.META.get("HTTP_REFERER", "")):
        if _is_safe(request, candidate):
            return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def redirect_to_confirm(request: HttpRequest, next_url: str) -> HttpResponse:
    """Send the user to "Confirm it's you", then back to ``next_url``; nothing was done."""
    if not request.accepts("text/html"):
        return HttpResponseForbidden(CONFIRM_MESSAGE)
    messages.info(request, CONFIRM_MESSAGE)
    query = urlencode({"next": next_url if _is_safe(request, next_url) else "/"})
    return redirect(f"{reverse('accounts:sudo-confirm')}?{query}")


def confirm_first(request: HttpRequest) -> HttpResponse | None:
    """None in sudo mode; otherwise the redirect to "Confirm it's you" (and back) to return.

    For views that look up an object first, so that another firm's object still gives 404.
    """
    if is_sudo(request):
        return None
    return redirect_to_confirm(request, return_url(request))


def sudo_required(view: View) -> View:
    """Runs ``view`` only in sudo mode; otherwise sends the user to confirm it's them first.

    Put it under the login or admin check, so that anonymous users and firm users meet those
    first. A view with an object id in its URL calls ``confirm_first`` after its lookup instead,
    so that another firm's id gives 404 rather than the confirm page.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return confirm_first(request) or view(request, *args, **kwargs)

    return wrapped
