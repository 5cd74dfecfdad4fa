"""User Settings > Your sessions, and an admin ending all of a user's sessions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .. import sessions
from ..access import firm_admin_required, get_user_for_admin
from ..http import AuthenticatedHttpRequest
from ..models import UserSession


def _get_own_session(request: AuthenticatedHttpRequest, pk: int) -> UserSession:
    """A signed-in session of the logged-in user, or 404."""
    return get_object_or_404(UserSession.objects.filter(user=request.user), pk=pk)


@login_required
def session_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    current = sessions.current_record_id(request)
    rows = [
        {
            "record": record,
            "label": sessions.browser_label(record.user_agent),
            "is_current": record.pk == current,
        }
        for record in sessions.signed_in_sessions(request.user)
    ]
    rows.sort(key=lambda row: not row["is_current"])
    context = {"rows": rows, "others": sum(not row["is_current"] for row in rows)}
    return render(request, "accounts/sessions.html", context)


@require_POST
@login_required
def session_end(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    record = _get_own_session(request, pk)
    if record.pk == sessions.current_record_id(request):
        messages.error(request, "To end this session, log out.")
        return redirect("accounts:session-list")
    sessions.end_session(record)
    label = sessions.browser_label(record.user_agent)
    messages.success(request, f"The session on {label} was ended.")
    return redirect("accounts:session-list")


@require_POST
@login_required
def session_end_others(request: AuthenticatedHttpRequest) -> HttpResponse:
    sessions.end_other_sessions(request.user, keep=sessions.current_record_id(request))
    sessions.keep_only_this_session(request, request.user)
    messages.success(request, "Every other session was ended. This one stays signed in.")
    return redirect("accounts:session-list")


@require_POST
@firm_admin_required
def user_sessions_end(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    user = get_user_for_admin(request, pk)
    if user.pk == request.user.pk:
        messages.error(request, "End your own sessions in User Settings > Your sessions.")
        return redirect("accounts:user-edit", pk=user.pk)
    sessions.end_all_sessions(user, by=request.user)
    messages.success(request, f"Every session of {user} was ended. They must log in again.")
    return redirect("accounts:user-edit", pk=user.pk)
