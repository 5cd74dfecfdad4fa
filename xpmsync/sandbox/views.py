"""A Xero look-alike for development and tests: identity, connections and the XPM client list.

Installed and mounted at /xero-sandbox/ only when no Xero credentials are configured, which the
settings allow only with DEBUG on. The portal reaches it over HTTP through the same code as real
Xero.
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
from django.core.cache import cache
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .models import ACCESS_LIFETIME, XERO_USERS, Connection, Grant, Scenario, Token
from .practice import practice_xml

XPM_TENANT = {
    "tenantId": "9d3c2a5e-6f1b-4e8a-b2c4-7a8d9e0f1a2b",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Harbour View Accounting (Sandbox)",
}
SECOND_XPM_TENANT = {
    "tenantId": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Coastal Tax Partners (Sandbox)",
}
ACCOUNTING_TENANT = {
    "tenantId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "tenantType": "ORGANISATION",
    "tenantName": "Harbour View Accounting Ltd (Xero accounting)",
}
TENANTS = {t["tenantId"]: t for t in (XPM_TENANT, SECOND_XPM_TENANT, ACCOUNTING_TENANT)}
# Xero's documented limits per tenant (calls a minute, a day).
MINUTE_LIMIT = 60
DAY_LIMIT = 5000
APP_MINUTE_LIMIT = 10000


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


def _bearer(request: HttpRequest) -> Token | None:
    """The token of a request's unexpired, unrevoked access token (Xero refuses any other)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = Token.objects.filter(access_token=header[7:]).first()
    return token if token is not None and token.access_usable else None


def _unauthorized() -> JsonResponse:
    return JsonResponse(
        {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired"},
        status=401,
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


# --- Identity ----------------------------------------------------------------------------------


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
            "tenants": _offered_tenants(),
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
        xero_user=params.get("xero_user") if params.get("xero_user") in XERO_USERS else "alex",
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
    for tenant in _offered_tenants():
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


# --- API ---------------------------------------------------------------------------------------


def _offered_tenants() -> list[dict]:
    """The tenants a consent offers now, named as the scenario says Xero names them."""
    match Scenario.current().tenants:
        case Scenario.Tenants.NONE:
            tenants = [ACCOUNTING_TENANT]
        case Scenario.Tenants.SEVERAL:
            tenants = [XPM_TENANT, ACCOUNTING_TENANT, SECOND_XPM_TENANT]
        case _:
            tenants = [XPM_TENANT]
    return [_as_named(tenant) for tenant in tenants]


def _as_named(tenant: dict) -> dict:
    if tenant["tenantType"] != "PRACTICEMANAGER":
        return dict(tenant)
    named = {k: v for k, v in tenant.items() if k != "tenantName"}
    match Scenario.current().tenant_names:
        case Scenario.TenantNames.NULL:
            named["tenantName"] = None
        case Scenario.TenantNames.EMPTY:
            named["tenantName"] = ""
        case Scenario.TenantNames.MISSING:
            pass
        case _:
            named["tenantName"] = tenant["tenantName"]
    return named


def _described(connection: Connection) -> dict:
    """A connection in the shape of Xero's /connections answer."""
    return {
        "id": connection.id,
        "authEventId": connection.auth_event_id,
        **_as_named(TENANTS[connection.tenant_id]),
        "createdDateUtc": connection.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f0"),
        "updatedDateUtc": connection.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f0"),
    }


@csrf_exempt
@require_http_methods(["GET"])
def connections(request: HttpRequest) -> HttpResponse:
    """``GET /connections``: JSON, the caller's connections (``?authEventId=`` filters them)."""
    bearer = _bearer(request)
    if bearer is None:
        return _unauthorized()
    if Scenario.current().play(Scenario.Failure.CONNECTIONS_NOT_JSON):
        return HttpResponse("<html><body>Service unavailable</body></html>")
    mine = Connection.objects.filter(xero_user=bearer.xero_user)
    if request.GET.get("authEventId"):
        mine = mine.filter(auth_event_id=request.GET["authEventId"])
    return JsonResponse([_described(c) for c in mine], safe=False)


@csrf_exempt
@require_http_methods(["DELETE"])
def connection(request: HttpRequest, connection_id: str) -> HttpResponse:
    """``DELETE /connections/{id}``: needs a valid, unexpired access token of its user."""
    bearer = _bearer(request)
    if bearer is None:
        return _unauthorized()
    deleted, _ = Connection.objects.filter(pk=connection_id, xero_user=bearer.xero_user).delete()
    return HttpResponse(status=204 if deleted else 404)


@csrf_exempt
@require_http_methods(["GET"])
def client_list(request: HttpRequest) -> HttpResponse:
    """``client.api/list?detailed=true``, streamed, or the scenario's failure."""
    scenario = Scenario.current()
    bearer = _bearer(request)
    if bearer is None or scenario.play(Scenario.Failure.UNAUTHORIZED):
        return _unauthorized()
    tenant_id = request.headers.get("Xero-tenant-id", "")
    connected = Connection.objects.filter(xero_user=bearer.xero_user, tenant_id=tenant_id)
    if TENANTS.get(tenant_id, {}).get("tenantType") != "PRACTICEMANAGER" or not connected.exists():
        return HttpResponse("Forbidden: this tenant is not connected", status=403)
    limits = _count_call(tenant_id)
    response = _over_limit(limits) or _played_failure(scenario)
    if response is None:
        response = StreamingHttpResponse(
            practice_xml(scenario.practice_size, scenario.seed), content_type="application/xml"
        )
    response["X-DayLimit-Remaining"] = str(max(DAY_LIMIT - limits["day"], 0))
    response["X-MinLimit-Remaining"] = str(max(MINUTE_LIMIT - limits["minute"], 0))
    response["X-AppMinLimit-Remaining"] = str(max(APP_MINUTE_LIMIT - limits["app_minute"], 0))
    return response


def _count_call(tenant_id: str) -> dict[str, int]:
    """Count one call against the tenant's minute and day, and the app's minute."""
    now = int(time.time())
    keys = {
        "minute": (f"xpm-sandbox:{tenant_id}:m:{now // 60}", 60),
        "day": (f"xpm-sandbox:{tenant_id}:d:{now // 86400}", 86400),
        "app_minute": (f"xpm-sandbox:app:m:{now // 60}", 60),
    }
    counts = {}
    for name, (key, lifetime) in keys.items():
        cache.add(key, 0, timeout=lifetime)
        counts[name] = cache.incr(key)
    return counts


def _over_limit(limits: dict[str, int]) -> HttpResponse | None:
    for problem, used, limit, wait in (
        ("day", limits["day"], DAY_LIMIT, 86400 - int(time.time()) % 86400),
        ("minute", limits["minute"], MINUTE_LIMIT, 60 - int(time.time()) % 60),
        ("appminute", limits["app_minute"], APP_MINUTE_LIMIT, 60 - int(time.time()) % 60),
    ):
        if used > limit:
            response = HttpResponse("Rate limit exceeded", status=429)
            response["Retry-After"] = str(wait)
            response["X-Rate-Limit-Problem"] = problem
            return response
    return None


def _played_failure(scenario: Scenario) -> HttpResponse | None:
    if scenario.play(Scenario.Failure.FORBIDDEN):
        return HttpResponse("Forbidden", status=403)
    if scenario.play(Scenario.Failure.RATE_LIMITED):
        response = HttpResponse("Rate limit exceeded", status=429)
        response["Retry-After"] = "2"
        response["X-Rate-Limit-Problem"] = "minute"
        return response
    if scenario.play(Scenario.Failure.SERVER_ERROR):
        return HttpResponse("Internal Server Error", status=500)
    if scenario.play(Scenario.Failure.SLOW):
        time.sleep(3)
    if scenario.play(Scenario.Failure.MALFORMED):
        return HttpResponse(
            b"<Response><Status>OK</Status><Clients><Client><UUID>", content_type="application/xml"
        )
    if scenario.play(Scenario.Failure.STATUS_ERROR):
        body = (
            b"<Response><Status>ERROR</Status>"
            b"<ErrorDescription>Sandbox error</ErrorDescription></Response>"
        )
        return HttpResponse(body, content_type="application/xml")
    if scenario.play(Scenario.Failure.NOT_XML):
        return HttpResponse("<html><body><h1>Sign in to Xero</h1></body></html>")
    if scenario.play(Scenario.Failure.EMPTY_LIST):
        body = b'<Response api-method="List"><Status>OK</Status><Clients /></Response>'
        return HttpResponse(body, content_type="application/xml")
    return None


# --- The control page --------------------------------------------------------------------------


def control(request: HttpRequest) -> HttpResponse:
    """Choose the sandbox's tenants and the failure it plays back (development only)."""
    scenario = Scenario.current()
    if request.method == "POST":
        if request.POST.get("action") == "expire_access_tokens":
            Token.objects.update(access_expires_at=timezone.now())
            return HttpResponseRedirect(request.path)
        scenario.tenants = request.POST.get("tenants", Scenario.Tenants.ONE)
        scenario.tenant_names = request.POST.get("tenant_names", Scenario.TenantNames.NAMED)
        scenario.refresh_grace = request.POST.get("refresh_grace") == "on"
        scenario.failure = request.POST.get("failure", "")
        left = request.POST.get("failures_left", "")
        scenario.failures_left = int(left) if left.isdigit() else None
        size = request.POST.get("client_count", "")
        scenario.client_count = int(size) if size.isdigit() else None
        scenario.full_clean()
        scenario.save()
        return HttpResponseRedirect(request.path)
    context = {
        "scenario": scenario,
        "Scenario": Scenario,
        "connections": [
            {**_described(c), "user": XERO_USERS[c.xero_user]} for c in Connection.objects.all()
        ],
    }
    return render(request, "xpm_sandbox/control.html", context)
