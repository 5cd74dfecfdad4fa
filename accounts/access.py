"""Access helpers: the only way views reach tenant objects and firm-only pages.

The tenant always comes from the logged-in user, never from the URL, a form or a query string.
Another firm's object and a missing one give the same 404; a firm user on an admin page gets 403.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .http import AuthenticatedHttpRequest
from .models import Firm, User

View = Callable[..., HttpResponse]


def firm_member_required(view: View) -> View:
    """Logged in and a member of a firm (platform operators without a firm get 403)."""

    @login_required
    @wraps(view)
    def wrapped(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.firm_id is None:
            raise PermissionDenied("This page is for members of a firm.")
        return view(request, *args, **kwargs)

    return wrapped


def firm_admin_required(view: View) -> View:
    """Logged in as an admin of a firm; firm users get 403."""

    @firm_member_required
    @wraps(view)
    def wrapped(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_firm_admin:
            raise PermissionDenied("Only firm admins can open this page.")
        return view(request, *args, **kwargs)

    return wrapped


def get_firm(request: AuthenticatedHttpRequest) -> Firm:
    """The firm of the logged-in member (the firm checks above keep operators out)."""
    firm = request.user.firm
    if firm is None:
        raise PermissionDenied("This page is for members of a firm.")
    return firm


def get_user_for_admin(request: AuthenticatedHttpRequest, pk: int) -> User:
    """A user of the admin's own firm, or 404."""
    return get_object_or_404(User.objects.for_firm(get_firm(request)), pk=pk)
