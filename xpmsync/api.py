"""The only module that speaks HTTP to Xero (or to the built-in sandbox, at other addresses).

Token exchange and refresh go through requests-oauthlib; API calls through a plain requests
session with the Bearer token and the tenant header. Every call has a timeout, and none follows a
redirect (a redirected call would carry credentials elsewhere). Failures are raised as this
module's own typed errors. It knows nothing of the database: ``credentials`` decides when to
refresh and what a refusal means for a stored connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Protocol

import requests
from django.conf import settings
from oauthlib.oauth2 import InvalidClientError, InvalidGrantError, OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

PRACTICE_MANAGER = "PRACTICEMANAGER"
DOWNLOAD_CHUNK = 256 * 1024


class XeroError(Exception):
    """A call to Xero failed; the message is safe to show an admin."""

    retryable = False


class NeedsReconnect(XeroError):
    """The connection cannot get a token any more: only an admin reconnecting can fix it."""


class DisconnectedInXero(NeedsReconnect):
    """Xero no longer lists the practice among the token's connections."""


class InvalidGrant(NeedsReconnect):
    """Xero answered invalid_grant: the refresh token is dead, spent or revoked."""


class AppRejected(XeroError):
    """Xero refused the portal's own app credentials (invalid_client): an operator must act."""


class NotFound(XeroError):
    """Xero answered 404."""


class PermissionMissing(XeroError):
    """Xero answered 403: commonly the XPM staff permission for third-party add-ons."""


@dataclass
class RateLimited(XeroError):
    retry_after: int | None
    problem: str = ""
    retryable = True

    def __str__(self) -> str:
        return f"Xero's {self.problem or 'rate'} limit was reached."


class UnexpectedContent(XeroError):
    """The answer is not the kind the call returns (an HTML page where XML was due)."""


class ResponseTooLarge(XeroError):
    """The response is bigger than any real practice's client list."""


class Unavailable(XeroError):
    """Xero answered 5xx or did not answer in time."""

    retryable = True


@dataclass
class RateLimits:
    """The rate-limit headers of the last call, as Xero reported them."""

    day_remaining: str = ""
    minute_remaining: str = ""
    app_minute_remaining: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


# --- OAuth: authorization, code exchange, revocation -------------------------------------------


def _oauth_session(**kwargs) -> OAuth2Session:
    session = OAuth2Session(settings.XERO_CLIENT_ID, **kwargs)
    session.max_redirects = 0  # a redirect raises TooManyRedirects instead of being followed
    return session


def authorization_url(state: str, code_challenge: str) -> str:
    session = OAuth2Session(
        settings.XERO_CLIENT_ID, redirect_uri=settings.XERO_REDIRECT_URI, scope=settings.XERO_SCOPES
    )
    url, _state = session.authorization_url(
        settings.XERO_AUTHORIZE_URL,
        state=state,
        code_challenge=code_challenge,
        code_challenge_method="S256",
    )
    return url


def exchange_code(code: str, code_verifier: str) -> dict:
    """Trade the authorization code (and the PKCE verifier) for a token set."""
    session = _oauth_session(redirect_uri=settings.XERO_REDIRECT_URI)
    try:
        return dict(
            session.fetch_token(
                settings.XERO_TOKEN_URL,
                code=code,
                code_verifier=code_verifier,
                auth=_client_auth(),
                timeout=settings.XERO_TIMEOUT,
            )
        )
    except OAuth2Error as error:
        raise XeroError(f"Xero refused the sign-in ({error.error}). Please try again.") from error
    except requests.TooManyRedirects as error:
        raise XeroError(_REDIRECTED) from error
    except requests.RequestException as error:
        raise Unavailable(
            "Xero could not be reached. Please try again in a few minutes."
        ) from error


_REDIRECTED = "Xero answered with a redirect, which the portal does not follow."
_UNREADABLE_CONNECTIONS = (
    "Xero's list of connected practices could not be read, so nothing was stored. "
    "Please try connecting again in a few minutes."
)


def list_connections(access_token: str) -> list[dict]:
    """The tenants this token may reach, as Xero's JSON describes them (id, tenantId, …).

    Xero answers JSON here; anything else, or JSON of another shape, is refused as a whole.
    """
    response = _send("GET", settings.XERO_CONNECTIONS_URL, access_token, accept="application/json")
    _raise_for_status(response)
    try:
        connections = response.json()
    except ValueError as error:
        raise XeroError(_UNREADABLE_CONNECTIONS) from error
    if not isinstance(connections, list) or not all(_is_connection(c) for c in connections):
        raise XeroError(_UNREADABLE_CONNECTIONS)
    return connections


def _is_connection(entry: object) -> bool:
    return isinstance(entry, dict) and all(
        isinstance(entry.get(key), str) and entry[key] for key in ("id", "tenantId", "tenantType")
    )


def practice_manager_tenants(connections: list[dict]) -> list[dict]:
    """The PRACTICEMANAGER tenants, their names as strings ("" where Xero sends null or none)."""
    return [
        {**c, "tenantName": c.get("tenantName") if isinstance(c.get("tenantName"), str) else ""}
        for c in connections
        if c["tenantType"] == PRACTICE_MANAGER
    ]


def revoke(refresh_token: str) -> None:
    """Revoke a refresh token: Xero then ends EVERY connection its user made to this app."""
    try:
        response = requests.post(
            settings.XERO_REVOCATION_URL,
            data={"token": refresh_token},
            auth=_client_auth(),
            timeout=settings.XERO_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise Unavailable("Xero's sign-in service could not be reached.") from error
    _raise_for_status(response)


def delete_connection(access_token: str, xero_connection_id: str) -> None:
    """Remove one tenant's connection to this app (a 404 means it is gone already)."""
    url = f"{settings.XERO_CONNECTIONS_URL.rstrip('/')}/{xero_connection_id}"
    with contextlib.suppress(NotFound):
        _raise_for_status(_send("DELETE", url, access_token, accept="application/json"))


def _client_auth() -> HTTPBasicAuth:
    return HTTPBasicAuth(settings.XERO_CLIENT_ID, settings.XERO_CLIENT_SECRET)


# --- Refreshing ---------------------------------------------------------------------------------


def refresh(refresh_token: str) -> dict:
    """Trade a refresh token for a new token set (Xero rotates the refresh token too).

    Raises InvalidGrant when Xero no longer accepts the refresh token and AppRejected when it
    refuses the portal's own credentials: neither is transient.
    """
    session = _oauth_session()
    try:
        return dict(
            session.refresh_token(
                settings.XERO_TOKEN_URL,
                refresh_token=refresh_token,
                auth=_client_auth(),
                timeout=settings.XERO_TIMEOUT,
            )
        )
    except InvalidGrantError as error:
        raise InvalidGrant("Xero no longer accepts this connection's refresh token.") from error
    except InvalidClientError as error:
        raise AppRejected("Xero refused the portal's own app credentials.") from error
    except OAuth2Error as error:
        raise Unavailable(f"Xero refused to refresh the token ({error.error}).") from error
    except requests.TooManyRedirects as error:
        raise XeroError(_REDIRECTED) from error
    except requests.RequestException as error:
        raise Unavailable("Xero's sign-in service could not be reached.") from error


# --- The Practice Manager API ------------------------------------------------------------------


# Gives an access token for the tenant; ``True`` asks for a new one (Xero answered 401).
TokenSource = Callable[[bool], str]


class CallBudget(Protocol):
    """Xero's limits, shared by every worker (``ratelimit.Budget``): spend first, then correct."""

    def spend(self) -> None: ...
    def correct(self, headers: Mapping[str, str]) -> None: ...


@dataclass
class XpmClient:
    """Calls to one XPM tenant, with a token from ``token``, asking for a new one once on 401;
    each call spends from ``budget`` first, which may refuse it."""

    tenant_id: str
    token: TokenSource
    budget: CallBudget | None = None
    calls: int = 0
    rate_limits: RateLimits = field(default_factory=RateLimits)

    def download_client_list(
        self,
        into: IO[bytes],
        *,
        modified_since: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write the detailed client list into the file ``into``; return its size in bytes.

        Downloading it whole before anything is applied keeps a slow or broken connection out
        of the sync's database transaction; a file (spooled to disk when large) keeps memory
        flat. A list beyond XPM_LIST_MAX_BYTES is refused. With ``modified_since`` XPM lists only
        the clients modified since then (``modifiedsince``, UTC, as XPM's reference spells and
        formats it). ``progress`` hears the bytes received so far, after each chunk.
        """
        url = settings.XPM_API_URL + "client.api/list"
        params = {"detailed": "true"}
        if modified_since is not None:
            utc = modified_since.astimezone(UTC)
            params["modifiedsince"] = utc.strftime("%Y-%m-%dT%H:%M:%S")
        response = self._get(url, params=params, stream=True)
        _require_xml(response)
        size = 0
        try:
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                size += len(chunk)
                if size > settings.XPM_LIST_MAX_BYTES:
                    raise ResponseTooLarge(
                        "XPM's client list is larger than the "
                        f"{settings.XPM_LIST_MAX_BYTES // 2**20} MB the portal accepts."
                    )
                into.write(chunk)
                if progress is not None:
                    progress(size)
        except requests.RequestException as error:
            raise Unavailable("The client list stopped arriving before it was complete.") from error
        finally:
            response.close()
        return size

    def _get(self, url: str, **kwargs) -> requests.Response:
        token = self.token(False)
        for attempt in (1, 2):
            if self.budget is not None:
                self.budget.spend()
            self.calls += 1
            response = _send(
                "GET",
                url,
                token,
                tenant_id=self.tenant_id,
                timeout=settings.XPM_LIST_TIMEOUT,
                **kwargs,
            )
            self.rate_limits = _rate_limits(response, self.rate_limits)
            if self.budget is not None:
                self.budget.correct(response.headers)
            if response.status_code == 401 and attempt == 1:
                response.close()
                token = self.token(True)
                continue
            _raise_for_status(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _require_xml(response: requests.Response) -> None:
    """XPM answers XML; an HTML page or JSON in its place is never read as a client list."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in ("application/xml", "text/xml") or content_type.endswith("+xml"):
        return
    response.close()
    raise UnexpectedContent(
        f"XPM answered with {content_type or 'no content type'} instead of XML, so the answer "
        "was not read."
    )


def _rate_limits(response: requests.Response, previous: RateLimits) -> RateLimits:
    headers = response.headers
    if "X-DayLimit-Remaining" not in headers and "X-MinLimit-Remaining" not in headers:
        return previous
    return RateLimits(
        day_remaining=headers.get("X-DayLimit-Remaining", ""),
        minute_remaining=headers.get("X-MinLimit-Remaining", ""),
        app_minute_remaining=headers.get("X-AppMinLimit-Remaining", ""),
    )


def _send(
    method: str,
    url: str,
    access_token: str,
    *,
    tenant_id: str = "",
    accept: str = "application/xml",
    timeout: tuple[int, int] | None = None,
    **kwargs,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": accept}
    if tenant_id:
        headers["Xero-tenant-id"] = tenant_id
    try:
        return requests.request(
            method,
            url,
            headers=headers,
            timeout=timeout or settings.XERO_TIMEOUT,
            allow_redirects=False,
            **kwargs,
        )
    except requests.Timeout as error:
        raise Unavailable("Xero did not answer in time.") from error
    except requests.RequestException as error:
        raise Unavailable("Xero could not be reached.") from error


def _raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    response.close()
    if status < 400:
        raise XeroError(_REDIRECTED)
    if status == 401:
        raise XeroError("Xero did not accept the access token (401).")
    if status == 403:
        raise PermissionMissing(
            "Xero refused access (403). The XPM staff member who connected needs the permission "
            "“Connect third-party add-ons” (formerly “Authorise 3rd Party Full Access”)."
        )
    if status == 404:
        raise NotFound("Xero answered 404: not found.")
    if status == 429:
        retry_after = response.headers.get("Retry-After", "")
        raise RateLimited(
            retry_after=int(retry_after) if retry_after.isdigit() else None,
            problem=response.headers.get("X-Rate-Limit-Problem", ""),
        )
    if status >= 500:
        raise Unavailable(f"Xero had a problem ({status}).")
    raise XeroError(f"Xero answered {status}.")
