"""Instructions that depend on who reads them: staff cannot reach Manage Clients > Xero Sync.

A firm admin is told to press Sync Now; a firm user is told whom to ask, by name.
"""

from __future__ import annotations

from accounts.admins import ask_admin
from accounts.models import User


def after_changing_in_xpm(user: User) -> str:
    """The sentence saying what brings a change made in XPM into the portal, for this reader."""
    if user.is_firm_admin or user.firm is None:
        return "Then press Sync Now in Manage Clients > Xero Sync, or wait for the next sync."
    return (
        "The next scheduled sync brings the change here, "
        f"or ask {ask_admin(user.firm)} to press Sync Now."
    )
