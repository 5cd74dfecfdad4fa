from django.http import HttpRequest

from .models import XpmConnection


def reconnect_banner(request: HttpRequest) -> dict:
    """Tells admins, on every page, when the XPM connection needs reconnecting."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_firm_admin:
        return {}
    needs = XpmConnection.objects.filter(
        firm_id=user.firm_id, status=XpmConnection.Status.NEEDS_RECONNECT
    ).exists()
    return {"xpm_needs_reconnect": needs}
