"""The sandbox's Xero identity service: the consent page, tokens and revocation.

As at Xero, a consent connects the offered tenants to the app for the Xero user who signed in,
under a new authEventId; access tokens are JWTs naming that consent, and an ID token names the
user. Refresh tokens rotate; revoking one ends every connection of its user.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import ACCESS_LIFETIME, XERO_USERS, Connection, Grant, Scenario, Token
from .tenants import offered_tenants


def _oauth_error(error: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


def _client_authenticated(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return hmac.compare_digest(client_id, settings.XERO_CLIENT_ID) and hmac.compare_digest(
        secret, settings.XERO_CLIENT_SECRET
    )


def _jwt(claims: dict) -> str:
    """A JWT as Xero issues them (the sandbox signs with HS256 and its own client secret)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = part(json.dumps(claims).encode())
    signature = hmac.new(
        settings.XERO_CLIENT_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256
    ).digest()
    return f"{header}.{payload}.{part(signature)}"


def authorize(request: HttpRequest) -> HttpResponse:
    """The Xero login and consent page, with a choice of Xero user, Allow access and Deny."""
    params = request.GET if request.method == "GET" else request.POST
    problem = _authorize_problem(params)
    if problem:
        return render(request, "xpm_sandbox/authorize.html", {"problem": problem}, status=400)
    if request.method == "GET":
        context = {
            "params": params,
            "scopes": params["scope"].split(),
            "tenants": offered_tenants(),
            "users": XERO_USERS,
        }
        return render(request, "xpm_sandbox/authorize.html", context)
    redirect_to = params["redirect_uri"]
    if params.get("decision") != "allow":
        query = {"error": "access_denied", "state": params.get("state", "")}
        return HttpResponseRedirect(f"{redirect_to}?{urlencode(query)}")
    grant = Grant.objects.create(
        code=secrets.token_urlsafe(24),
        redirect_uri=redirect_to,
        code_challenge=params["code_challenge"],
        scope=params["scope"],
        xero_user=str(params.get("xero_user")) if params.get("xero_user") in XERO_USERS else "alex",
    )
    query = {"code": grant.code, "state": params.get("state", "")}
    return HttpResponseRedirect(f"{redirect_to}?{urlencode(query)}")


def _authorize_problem(params) -> str:
    if params.get("client_id") != settings.XERO_CLIENT_ID:
        return "Unknown client_id."
    if params.get("response_type") != "code":
        return "response_type must be code."
    if params.get("redirect_uri") != settings.XERO_REDIRECT_URI:
        return "redirect_uri does not match the app's registered redirect URI."
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        return "PKCE with S256 is required."
    if "offline_access" not in params.get("scope", "").split():
        return "The offline_access scope is required for a refresh token."
    return ""


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    if not _client_authenticated(request):
        return _oauth_error("invalid_client", 401)
    grant_type = request.POST.get("grant_type")
    if grant_type == "authorization_code":
        return _exchange_code(request)
    if grant_type == "refresh_token":
        return _refresh(request)
    return _oauth_error("unsupported_grant_type")


def _issue(xero_user: str, auth_event_id: str) -> Token:
    now = int(time.time())
    return Token.objects.create(
        access_token=_jwt(
            {
                "iss": settings.XERO_ID_TOKEN_ISSUER,
                "exp": now + int(ACCESS_LIFETIME.total_seconds()),
                "client_id": settings.XERO_CLIENT_ID,
                "xero_userid": XERO_USERS[xero_user]["xero_userid"],
                "authentication_event_id": auth_event_id,
                "jti": secrets.token_hex(16),
            }
        ),
        refresh_token=secrets.token_urlsafe(32),
        xero_user=xero_user,
        auth_event_id=auth_event_id,
        access_expires_at=timezone.now() + ACCESS_LIFETIME,
    )


def _token_response(issued: Token, *, with_id_token: bool) -> JsonResponse:
    body = {
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_in": int(ACCESS_LIFETIME.total_seconds()),
        "token_type": "Bearer",
        "scope": " ".join(settings.XERO_SCOPES),
    }
    if with_id_token:
        user = XERO_USERS[issued.xero_user]
        now = int(time.time())
        body["id_token"] = _jwt(
            {
                "iss": settings.XERO_ID_TOKEN_ISSUER,
                "aud": settings.XERO_CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "sub": user["xero_userid"].replace("-", ""),
                "preferred_username": user["email"],
                **user,
            }
        )
    return JsonResponse(body)


def _exchange_code(request: HttpRequest) -> JsonResponse:
    with transaction.atomic():
        grant = Grant.objects.select_for_update().filter(code=request.POST.get("code", "")).first()
        if (
            grant is None
            or grant.is_used
            or (timezone.now() - grant.created_at).total_seconds() > 300
        ):
            return _oauth_error("invalid_grant")
        grant.is_used = True
        grant.save(update_fields=["is_used"])
        verifier = request.POST.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if not hmac.compare_digest(challenge.decode().rstrip("="), grant.code_challenge):
            return _oauth_error("invalid_grant")
        if request.POST.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant")
        auth_event_id = str(uuid.uuid4())
        _connect_tenants(grant.xero_user, auth_event_id)
        issued = _issue(grant.xero_user, auth_event_id)
        return _token_response(issued, with_id_token="openid" in grant.scope.split())


def _connect_tenants(xero_user: str, auth_event_id: str) -> None:
    """The consent connects the offered tenants to the app for this user (again, if already)."""
    now = timezone.now()
    for tenant in offered_tenants():
        Connection.objects.update_or_create(
            xero_user=xero_user,
            tenant_id=tenant["tenantId"],
            defaults={"auth_event_id": auth_event_id, "updated_at": now},
            create_defaults={
                "id": Connection.id_for(xero_user, tenant["tenantId"]),
                "auth_event_id": auth_event_id,
                "created_at": now,
                "updated_at": now,
            },
        )


def _refresh(request: HttpRequest) -> JsonResponse:
    scenario = Scenario.current()
    if scenario.play(Scenario.Failure.INVALID_CLIENT):
        return _oauth_error("invalid_client")
    if scenario.play(Scenario.Failure.INVALID_GRANT):
        return _oauth_error("invalid_grant")
    with transaction.atomic():
        old = (
            Token.objects.select_for_update()
            .filter(refresh_token=request.POST.get("refresh_token", ""))
            .first()
        )
        if old is None or not old.refresh_usable(grace=scenario.refresh_grace):
            return _oauth_error("invalid_grant")
        if old.replaced_at is None:
            old.replaced_at = timezone.now()
            old.save(update_fields=["replaced_at"])
        return _token_response(_issue(old.xero_user, old.auth_event_id), with_id_token=False)


@csrf_exempt
@require_POST
def revocation(request: HttpRequest) -> HttpResponse:
    """Revoking a refresh token ends every connection its Xero user made to the app."""
    if not _client_authenticated(request):
        return _oauth_error("invalid_client", 401)
    revoked = Token.objects.filter(refresh_token=request.POST.get("token", "")).first()
    if revoked is not None:
        Token.objects.filter(xero_user=revoked.xero_user).update(is_revoked=True)
        Connection.objects.filter(xero_user=revoked.xero_user).delete()
    return HttpResponse(status=200)
