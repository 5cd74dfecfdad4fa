"""Request types for views behind the login checks."""

from django.http import HttpRequest

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request whose user is signed in: views behind ``login_required`` or the firm checks
    in ``accounts.access`` take this, so ``request.user`` is a ``User``, never anonymous."""

    user: User
