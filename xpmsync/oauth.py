"""The OAuth2 authorization-code flow with PKCE, bound to the admin's session and firm.

requests-oauthlib checks ``state`` only when told what to expect, and keeps the PKCE verifier on
a session object that does not survive the redirect, so both live here, in the server-side
session, for one use and ten minutes.
"""

import base64
import hashlib
import hmac
import secrets
import time

from django.contrib.sessions.backends.base import SessionBase

from accounts.models import User

from . import api

SESSION_KEY = "xpm_oauth"
STATE_LIFETIME = 10 * 60


class CallbackRefused(Exception):
    """The callback cannot be trusted; the message says what to do."""


def start(session: SessionBase, user: User) -> str:
    """Remember a fresh state and PKCE verifier for ``user``; returns Xero's authorize URL."""
    state = secrets.token_urlsafe(32)  # 256 bits
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    session[SESSION_KEY] = {
        "state": state,
        "verifier": verifier,
        "user_id": user.pk,
        "firm_id": user.firm_id,
        "started_at": int(time.time()),
    }
    return api.authorization_url(state, challenge.decode().rstrip("="))


def take_verifier(session: SessionBase, state: str, user: User) -> str:
    """Check the callback's ``state`` against this session, once; returns the PKCE verifier."""
    pending = session.pop(SESSION_KEY, None)
    if pending is None:
        raise CallbackRefused(
            "This sign-in was not started from this browser session, or it was already used."
        )
    if not state or not hmac.compare_digest(state, pending["state"]):
        raise CallbackRefused("The answer from Xero did not match the sign-in started here.")
    if time.time() - pending["started_at"] > STATE_LIFETIME:
        raise CallbackRefused("The sign-in took more than ten minutes.")
    if pending["user_id"] != user.pk or pending["firm_id"] != user.firm_id:
        raise CallbackRefused("The sign-in was started by another account.")
    if not user.is_firm_admin:
        raise CallbackRefused("Only a firm admin can connect Xero Practice Manager.")
    return pending["verifier"]
