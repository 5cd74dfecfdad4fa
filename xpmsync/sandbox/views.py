"""A Xero look-alike for development and tests: identity, connections and the XPM client list.

Installed and mounted at /xero-sandbox/ only when no Xero credentials are configured, which the
settings allow only with DEBUG on. The portal reaches it over HTTP through the same code as real
Xero.
"""

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

from django.conf import settings
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

from .models import Grant, Scenario, Token
from .practice import practice_xml

XPM_TENANT = {
    "id": "5b7f4a1c-0c8e-4a47-9f39-3f1c1d9e7a01",
    "tenantId": "9d3c2a5e-6f1b-4e8a-b2c4-7a8d9e0f1a2b",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Harbour View Accounting (Sandbox)",
}
SECOND_XPM_TENANT = {
    "id": "5b7f4a1c-0c8e-4a47-9f39-3f1c1d9e7a02",
    "tenantId": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Coastal Tax Partners (Sandbox)",
}
ACCOUNTING_TENANT = {
    "id": "5b7f4a1c-0c8e-4a47-9f39-3f1c1d9e7a03",
    "tenantId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "tenantType": "ORGANISATION",
    "tenantName": "Harbour View Accounting Ltd (Xero accounting)",
}


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
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = Token.objects.filter(access_token=header[7:], is_revoked=False).first()
    if token is None or token.access_expires_at <= timezone.now():
        return None
    return token


# --- Identity ----------------------------------------------------------------------------------


def authorize(request: HttpRequest) -> HttpResponse:
    """The Xero login and consent page, with Allow access and Deny."""
    params = request.GET if request.method == "GET" else request.POST
    problem = _authorize_problem(params)
    if problem:
        return render(request, "xpm_sandbox/authorize.html", {"problem": problem}, status=400)
    if request.method == "GET":
        context = {"params": params, "scopes": params["scope"].split(), "tenants": _tenants()}
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


def _token_response(issued: Token) -> JsonResponse:
    return JsonResponse(
        {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": 1800,
            "token_type": "Bearer",
            "scope": " ".join(settings.XERO_SCOPES),
        }
    )


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
        return _token_response(Token.issue())


def _refresh(request: HttpRequest) -> JsonResponse:
    scenario = Scenario.current()
    if scenario.play(Scenario.Failure.INVALID_GRANT):
        return _oauth_error("invalid_grant")
    with transaction.atomic():
        old = (
            Token.objects.select_for_update()
            .filter(refresh_token=request.POST.get("refresh_token", ""))
            .first()
        )
        if old is None or not old.refresh_usable:
            return _oauth_error("invalid_grant")
        if old.replaced_at is None:
            old.replaced_at = timezone.now()
            old.save(update_fields=["replaced_at"])
        return _token_response(Token.issue())


@csrf_exempt
@require_POST
def revocation(request: HttpRequest) -> HttpResponse:
    if not _client_authenticated(request):
        return _oauth_error("invalid_client", 401)
    Token.objects.filter(refresh_token=request.POST.get("token", "")).update(is_revoked=True)
    return HttpResponse(status=200)


# --- API ---------------------------------------------------------------------------------------


def _tenants() -> list[dict]:
    match Scenario.current().tenants:
        case Scenario.Tenants.NONE:
            return [ACCOUNTING_TENANT]
        case Scenario.Tenants.SEVERAL:
            return [XPM_TENANT, ACCOUNTING_TENANT, SECOND_XPM_TENANT]
        case _:
            return [XPM_TENANT]


@csrf_exempt
@require_http_methods(["GET"])
def connections(request: HttpRequest) -> JsonResponse:
    if _bearer(request) is None:
        return JsonResponse({"Title": "Unauthorized"}, status=401)
    return JsonResponse(_tenants(), safe=False)


@csrf_exempt
@require_http_methods(["DELETE"])
def connection(request: HttpRequest, connection_id: str) -> HttpResponse:
    if _bearer(request) is None:
        return JsonResponse({"Title": "Unauthorized"}, status=401)
    known = {tenant["id"] for tenant in (XPM_TENANT, SECOND_XPM_TENANT, ACCOUNTING_TENANT)}
    return HttpResponse(status=204 if connection_id in known else 404)


@csrf_exempt
@require_http_methods(["GET"])
def client_list(request: HttpRequest) -> HttpResponse:
    """``client.api/list?detailed=true``, streamed, or the scenario's failure."""
    scenario = Scenario.current()
    if _bearer(request) is None or scenario.play(Scenario.Failure.UNAUTHORIZED):
        return HttpResponse("Unauthorized", status=401)
    tenant_ids = {t["tenantId"] for t in _tenants() if t["tenantType"] == "PRACTICEMANAGER"}
    if request.headers.get("Xero-tenant-id") not in tenant_ids:
        return HttpResponse("Forbidden: unknown tenant", status=403)
    failure = _played_failure(scenario)
    if failure is not None:
        return failure
    response = StreamingHttpResponse(
        practice_xml(scenario.practice_size, scenario.seed), content_type="application/xml"
    )
    response["X-DayLimit-Remaining"] = "4998"
    response["X-MinLimit-Remaining"] = "59"
    response["X-AppMinLimit-Remaining"] = "9999"
    return response


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
    return None


# --- The control page --------------------------------------------------------------------------


def control(request: HttpRequest) -> HttpResponse:
    """Choose the sandbox's tenants and the failure it plays back (development only)."""
    scenario = Scenario.current()
    if request.method == "POST":
        scenario.tenants = request.POST.get("tenants", Scenario.Tenants.ONE)
        scenario.failure = request.POST.get("failure", "")
        left = request.POST.get("failures_left", "")
        scenario.failures_left = int(left) if left.isdigit() else None
        size = request.POST.get("client_count", "")
        scenario.client_count = int(size) if size.isdigit() else None
        scenario.full_clean()
        scenario.save()
        return HttpResponseRedirect(request.path)
    return render(request, "xpm_sandbox/control.html", {"scenario": scenario, "Scenario": Scenario})
