"""What the portal checks again about a firm's clients after each XPM sync and CSV import.

Called by xpmsync (after a run succeeded) and by the CSV import (after it was applied); both
have already committed, so nothing here is raised into them: a failure is logged.
"""

from __future__ import annotations

import logging

from accounts.models import Firm

from .contacts import refresh_primary_contacts
from .duplicates import refresh_duplicates
from .models import ClientContact

logger = logging.getLogger(__name__)


def after_change(firm: Firm) -> int | None:
    """Give merged clients left with only portal contacts a primary again, and look for
    possible duplicates; returns how many pairs were found (None if the look failed)."""
    try:
        settle_portal_only_contacts(firm)
        return refresh_duplicates(firm)
    except Exception:
        logger.exception("Could not check the clients of firm %s after a change", firm.pk)
        return None


def settle_portal_only_contacts(firm: Firm) -> int:
    """Synced clients whose contacts are all portal-only (kept by a merge) but none primary,
    because XPM removed its own: the primary-contact rule chooses among those left."""
    with_portal_only = set(
        ClientContact.objects.for_firm(firm)
        .filter(client__xpm_uuid__isnull=False, contact__xpm_uuid__isnull=True)
        .values_list("client_id", flat=True)
    )
    if not with_portal_only:
        return 0
    with_primary = set(
        ClientContact.objects.for_firm(firm)
        .filter(client_id__in=with_portal_only, is_primary=True)
        .values_list("client_id", flat=True)
    )
    return refresh_primary_contacts(firm, with_portal_only - with_primary)
