"""Whom to ask: the sentences that send someone to a firm admin name the admins they can ask."""

from __future__ import annotations

from .models import Firm, User

# Naming more than this many admins makes the sentence a list; "an admin" then says enough.
MAX_NAMED_ADMINS = 3


def firm_admin_names(firm: Firm, *, besides: User | None = None) -> list[str]:
    """The names (or emails) of the firm's active admins, other than ``besides``, alphabetically."""
    admins = User.objects.for_firm(firm).filter(role=User.Role.ADMIN, is_active=True)
    if besides is not None:
        admins = admins.exclude(pk=besides.pk)
    names = [admin.get_full_name() or admin.email for admin in admins]
    return sorted(names, key=str.casefold)


def ask_admin(firm: Firm | None, *, besides: User | None = None) -> str:
    """ "your admin (Alex Admin)", "an admin (Alex Admin or Priya Raman)", or "a firm admin"
    (no firm, no other admin, or too many to name)."""
    names = firm_admin_names(firm, besides=besides) if firm is not None else []
    if not names or len(names) > MAX_NAMED_ADMINS:
        return "a firm admin"
    if len(names) == 1:
        return f"your admin ({names[0]})"
    return f"an admin ({', '.join(names[:-1])} or {names[-1]})"
