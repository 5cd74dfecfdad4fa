"""Instructions that depend on who reads them: staff cannot reach Manage Clients > Xero Sync.

A firm admin is told to press Sync Now; a firm user is told whom to ask, by name.
"""

from __future__ import annotations

from accounts.models import Firm, User

# Naming more than this many admins makes the sentence a list; "an admin" then says enough.
MAX_NAMED_ADMINS = 3


def firm_admin_names(firm: Firm) -> list[str]:
    """The names (or emails) of the firm's active admins, alphabetically."""
    admins = User.objects.for_firm(firm).filter(role=User.Role.ADMIN, is_active=True)
    names = [admin.get_full_name() or admin.email for admin in admins]
    return sorted(names, key=str.casefold)


def ask_admin(firm: Firm) -> str:
    """ "your admin (Alex Admin)", "an admin (Alex Admin or Priya Raman)", or "a firm admin"."""
    names = firm_admin_names(firm)
    if not names or len(names) > MAX_NAMED_ADMINS:
        return "a firm admin"
    if len(names) == 1:
        return f"your admin ({names[0]})"
    return f"an admin ({', '.join(names[:-1])} or {names[-1]})"


def after_changing_in_xpm(user: User) -> str:
    """The sentence saying what brings a change made in XPM into the portal, for this reader."""
    if user.is_firm_admin or user.firm is None:
        return "Then press Sync Now in Manage Clients > Xero Sync, or wait for the next sync."
    return (
        "The next scheduled sync brings the change here, "
        f"or ask {ask_admin(user.firm)} to press Sync Now."
    )
