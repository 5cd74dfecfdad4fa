"""Who authorised a connection, and in which consent: read from the tokens Xero returns.

The ID token (scopes ``openid profile email``) names the Xero user; the access token, also a JWT
at Xero, carries ``authentication_event_id``, the consent it came from (the ``authEventId`` of
the connections that consent created). Both arrive straight from Xero's token endpoint over TLS
in answer to our authenticated request, which OpenID Connect Core (3.1.3.7) accepts in place of
checking the signature; the issuer, audience and expiry are still checked. Nothing here trusts a
token that came through the browser.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass

from django.conf import settings

# Clock skew allowed between Xero and us when checking the ID token's expiry.
LEEWAY_SECONDS = 300


@dataclass(frozen=True)
class XeroUser:
    user_id: str
    name: str
    email: str


def claims(jwt: str) -> dict:
    """The payload of a JWT, unverified; empty when it is not one."""
    parts = jwt.split(".") if isinstance(jwt, str) else []
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def xero_user(token: dict) -> XeroUser | None:
    """The Xero user named by the token response's ID token, if it has a valid one."""
    found = claims(token.get("id_token", ""))
    if not _is_ours(found):
        return None
    user_id = str(found.get("xero_userid") or found.get("sub") or "")
    if not user_id:
        return None
    name = " ".join(str(found.get(key) or "") for key in ("given_name", "family_name")).strip()
    return XeroUser(
        user_id=user_id[:64],
        name=(name or str(found.get("name") or ""))[:255],
        email=str(found.get("email") or "")[:254],
    )


def auth_event_id(token: dict) -> str:
    """The consent this token set came from, or "" when the access token does not say."""
    return str(claims(token.get("access_token", "")).get("authentication_event_id") or "")[:64]


def _is_ours(found: dict) -> bool:
    audience = found.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    expires = found.get("exp")
    return (
        found.get("iss") == settings.XERO_ID_TOKEN_ISSUER
        and settings.XERO_CLIENT_ID in audiences
        and isinstance(expires, int | float)
        and expires + LEEWAY_SECONDS > time.time()
    )
