"""Manage Clients > Xero Sync: connect, choose a practice, the connected panel, disconnect."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import mfa
from accounts.access import firm_admin_required, get_firm
from accounts.http import AuthenticatedHttpRequest
from accounts.sudo import sudo_required
from clients import history as client_history

from . import api, connection, oauth, progress, review, tasks
from .models import QUICK_SYNC_CHOICES, SyncRun, XpmConnection
from .panel import connection_of, panel_context


@never_cache
@firm_admin_required
def panel(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The Xero Sync page: the connected panel, the practice choice, or the connect steps."""
    xpm = connection_of(get_firm(request))
    if xpm is not None and xpm.status == XpmConnection.Status.CHOOSING:
        return render(request, "xpmsync/choose.html", {"connection": xpm})
    if xpm is not None:
        return render(request, "xpmsync/panel.html", panel_context(xpm))
    step = 2 if request.GET.get("step") == "2" else 1
    return render(request, "xpmsync/connect.html", {"step": step})


@require_POST
@firm_admin_required
def connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    return redirect(oauth.start(request.session, request.user))


PROBLEM_KEY = "xpm_callback_problem"


@never_cache
@login_required
def callback(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Xero's redirect back. It always redirects on: no page is shown at an address holding the
    code and state, and its no-referrer policy would make the browser send its forms'
    POSTs with a null Origin, which the CSRF check refuses."""
    try:
        verifier = oauth.take_verifier(request.session, request.GET.get("state", ""), request.user)
    except oauth.CallbackRefused as refused:
        return _problem(request, str(refused), status=400)
    if request.GET.get("error"):
        return _problem(request, "You chose not to allow access, so nothing changed.")
    if not request.GET.get("code"):
        return _problem(
            request,
            "Xero's answer held neither a sign-in code nor a reason, so nothing was stored. "
            "Please start again from Xero Sync.",
            status=400,
        )
    try:
        xpm = connection.complete_connection(
            get_firm(request),
            by=request.user,
            code=request.GET.get("code", ""),
            code_verifier=verifier,
        )
    except connection.NoPracticeManager:
        return _problem(request, "", status=400, page="xpmsync/no_permission.html")
    except api.XeroError as error:
        return _problem(request, str(error), status=502)
    if xpm.status == XpmConnection.Status.CHOOSING:
        return redirect("xpmsync:panel")
    return _after_connecting(request, xpm)


def _problem(
    request: HttpRequest,
    problem: str,
    *,
    status: int = 200,
    page: str = "xpmsync/callback_problem.html",
) -> HttpResponse:
    request.session[PROBLEM_KEY] = {"problem": problem, "status": status, "page": page}
    return redirect("xpmsync:callback-problem")


@never_cache
@login_required
def callback_problem(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What went wrong with the last answer from Xero, shown once."""
    problem = request.session.pop(PROBLEM_KEY, None)
    if problem is None:
        return redirect("clients:client-list")
    context = {"problem": problem["problem"]}
    return render(request, problem["page"], context, status=problem["status"])


def _after_connecting(request: AuthenticatedHttpRequest, xpm: XpmConnection) -> HttpResponse:
    messages.success(
        request,
        f"Connected to {xpm.practice_label}. The first sync has started; you will get an email "
        "with the summary when it is done.",
    )
    if mfa.has_mfa(request.user):
        return redirect("clients:manage-clients")
    return redirect(f"{reverse('accounts:mfa')}?next={reverse('clients:manage-clients')}")


@require_POST
@firm_admin_required
def choose(request: AuthenticatedHttpRequest) -> HttpResponse:
    xpm = connection_of(get_firm(request))
    if xpm is None or xpm.status != XpmConnection.Status.CHOOSING:
        return redirect("xpmsync:panel")
    try:
        connection.choose_tenant(xpm, request.POST.get("tenant_id", ""), by=request.user)
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("xpmsync:panel")
    return _after_connecting(request, xpm)


@require_POST
@firm_admin_required
@sudo_required
def disconnect(request: AuthenticatedHttpRequest) -> HttpResponse:
    connection.disconnect(get_firm(request), by=request.user)
    messages.success(
        request,
        "Disconnected from Xero Practice Manager. Your synced clients stay in the portal.",
    )
    return redirect("clients:manage-clients")


@require_POST
@firm_admin_required
def sync_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    quick = request.POST.get("kind") == SyncRun.Kind.QUICK
    try:
        run = tasks.request_sync(
            get_firm(request),
            trigger=SyncRun.Trigger.MANUAL,
            user=request.user,
            kind=SyncRun.Kind.QUICK if quick else SyncRun.Kind.FULL,
        )
    except tasks.SyncAlreadyRunning:
        messages.info(request, "A sync is already running. You will get an email when it ends.")
    except (tasks.NotConnected, tasks.QueueUnavailable) as error:
        messages.error(request, str(error))
    else:
        _report_outcome(request, run)
    return redirect("xpmsync:panel")


@require_POST
@firm_admin_required
def quick_syncs(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How often quick syncs run between the nightly full ones (or not at all)."""
    choice = request.POST.get("quick_sync_minutes", "")
    allowed = {str(value): label for value, label in QUICK_SYNC_CHOICES}
    if choice not in allowed:
        messages.error(request, "Choose how often quick syncs should run.")
    else:
        XpmConnection.objects.for_firm(get_firm(request)).update(quick_sync_minutes=int(choice))
        messages.success(request, f"Quick syncs: {allowed[choice].lower()}.")
    return redirect("xpmsync:panel")


def _report_outcome(request: AuthenticatedHttpRequest, run: SyncRun) -> None:
    """Say what happened: without a worker the run has already ended by now."""
    run.refresh_from_db(fields=["status", "error"])
    if run.status == SyncRun.Status.SUCCEEDED:
        messages.success(request, "The sync is complete. You will get an email with the summary.")
    elif run.status == SyncRun.Status.HELD:
        messages.warning(request, f"The sync was held for review: {run.error}")
    elif run.status == SyncRun.Status.FAILED:
        messages.error(request, f"The sync failed: {run.error}")
    else:
        messages.success(request, "Sync started. You will get an email with the summary.")


@require_POST
@firm_admin_required
@sudo_required
def apply_held(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Apply a held list anyway: a fresh run that downloads it again and skips the check."""
    try:
        review.apply_anyway(get_firm(request), by=request.user)
    except review.NothingToReview as error:
        messages.info(request, str(error))
    except tasks.SyncAlreadyRunning:
        messages.info(request, "A sync is already running. Try again when it has finished.")
    except (tasks.NotConnected, tasks.QueueUnavailable) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Applying XPM's client list. You will get an email when done.")
    return redirect("xpmsync:panel")


@require_POST
@firm_admin_required
def keep_held(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Keep the firm's clients as they are; the held list is not applied."""
    try:
        review.keep_clients(get_firm(request), by=request.user)
    except review.NothingToReview as error:
        messages.info(request, str(error))
    else:
        messages.success(request, "Your clients were kept as they are. Nothing was changed.")
    return redirect("xpmsync:panel")


@never_cache
@firm_admin_required
def run_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One sync run: its outcome and every change it made."""
    run = get_object_or_404(SyncRun.objects.for_firm(get_firm(request)), pk=pk)
    changes = Paginator(client_history.run_changes(run.firm, run.pk), 50)
    page = changes.get_page(request.GET.get("page"))
    entries = [(change, client_history.describe(change)) for change in page.object_list]
    return render(
        request, "xpmsync/run_detail.html", {"run": run, "page": page, "entries": entries}
    )


@never_cache
@firm_admin_required
def history(request: AuthenticatedHttpRequest) -> HttpResponse:
    runs = SyncRun.objects.for_firm(get_firm(request)).select_related("requested_by", "decided_by")
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    return render(request, "xpmsync/history.html", {"page": page})


@never_cache
@firm_admin_required
def status(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The latest run, for the panel to poll while a sync runs."""
    run = SyncRun.objects.for_firm(get_firm(request)).first()
    if run is None:
        return JsonResponse({"status": None})
    return JsonResponse(
        {
            "status": run.status,
            "label": run.get_status_display(),
            "is_active": run.is_active,
            "progress": progress.describe(run.pk) if run.is_active else "",
        }
    )
