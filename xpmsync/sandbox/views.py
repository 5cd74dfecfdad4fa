"""A Xero look-alike for development and tests: connections, the XPM client list, the control
page (the identity service is in ``identity``).

Installed and mounted at /xero-sandbox/ only when no Xero credentials are configured, which the
settings allow only with DEBUG on. The portal reaches it over HTTP through the same code as real
Xero.
"""

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from django.core.cache import cache
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
from django.views.decorators.http import require_http_methods

from .models import XERO_USERS, Connection, Edit, Scenario, Token
from .practice import clients, practice_xml
from .tenants import TENANTS, described

# Xero's documented limits per tenant (calls a minute, a day).
MINUTE_LIMIT = 60
DAY_LIMIT = 5000
APP_MINUTE_LIMIT = 10000


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


# --- API ---------------------------------------------------------------------------------------


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
    return JsonResponse([described(c) for c in mine], safe=False)


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
def client_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
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
    response: HttpResponse | StreamingHttpResponse | None = _over_limit(limits) or _played_failure(
        scenario
    )
    if response is None:
        edits = {e.client_number: e for e in Edit.objects.all()}
        body = practice_xml(
            scenario.practice_size,
            scenario.seed,
            edits={n: e.email for n, e in edits.items()},
            only=_modified_since(request, scenario, edits),
        )
        if scenario.play(Scenario.Failure.SLOW):
            body = _slowly(body)
        response = StreamingHttpResponse(body, content_type="application/xml")
    response["X-DayLimit-Remaining"] = str(max(DAY_LIMIT - limits["day"], 0))
    response["X-MinLimit-Remaining"] = str(max(MINUTE_LIMIT - limits["minute"], 0))
    response["X-AppMinLimit-Remaining"] = str(max(APP_MINUTE_LIMIT - limits["app_minute"], 0))
    return response


def _modified_since(request: HttpRequest, scenario: Scenario, edits: dict) -> Callable | None:
    """XPM's ``modifiedsince`` (UTC, ``yyyy-MM-ddTHH:mm:ss``; either spelling): the clients
    modified since then, by the practice's time or their own edit's."""
    raw = next((str(v) for k, v in request.GET.items() if k.lower() == "modifiedsince"), "")
    if not raw:
        return None
    since = datetime.fromisoformat(raw).replace(tzinfo=UTC)

    def modified(n: int) -> bool:
        edit = edits.get(n)
        return (edit.modified_at if edit else scenario.practice_modified_at) >= since

    return modified


def _slowly(chunks: Iterator[bytes], seconds: float = 3.0) -> Iterator[bytes]:
    """The list arriving over about ``seconds``, as a large practice's does from Xero."""
    parts = list(chunks)
    for part in parts:
        yield part
        time.sleep(seconds / len(parts))


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
        if request.POST.get("action") == "change_clients":
            _change_clients(scenario, int(request.POST.get("how_many") or 3))
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
        "edits": Edit.objects.order_by("-modified_at")[:10],
        "scenario": scenario,
        "Scenario": Scenario,
        "connections": [
            {**described(c), "user": XERO_USERS[c.xero_user]} for c in Connection.objects.all()
        ],
    }
    return render(request, "xpm_sandbox/control.html", context)


def _change_clients(scenario: Scenario, how_many: int) -> None:
    """Edit a few clients' email addresses "in XPM", as a person would between syncs: only
    clients XPM still lists, since a deleted one can no longer be edited."""
    now = timezone.now()
    listed = [
        n
        for n, client in enumerate(clients(scenario.practice_size, scenario.seed))
        if not client.is_deleted
    ]
    numbers = random.sample(listed, min(how_many, len(listed)))
    for n in numbers:
        stamp = now.strftime("%H%M%S")
        Edit.objects.update_or_create(
            client_number=n,
            defaults={"email": f"client{n + 1}.{stamp}@example.com", "modified_at": now},
        )
