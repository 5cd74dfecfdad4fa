"""How far a running sync has got, for the panel to show while it runs.

Kept in the cache (Redis in production), not in the run's row: the sync applies inside one
transaction, whose writes nobody else sees until it commits, and a progress row updated every
batch would be one more write per batch. Lost progress costs nothing but the figures.
"""

from __future__ import annotations

from django.core.cache import cache

# Longer than any run (its lease), so a live run's progress never expires under it.
LIFETIME = 40 * 60


def _key(run_id: int) -> str:
    return f"xpm-sync-progress:{run_id}"


def downloading(run_id: int, received: int) -> None:
    cache.set(_key(run_id), {"phase": "downloading", "received": received}, LIFETIME)


def applying(run_id: int, applied: int, total: int) -> None:
    cache.set(_key(run_id), {"phase": "applying", "applied": applied, "total": total}, LIFETIME)


def clear(run_id: int) -> None:
    cache.delete(_key(run_id))


def describe(run_id: int) -> str:
    """The run's progress in words ("Applying clients: 4,000 of 10,214"), or "" if unknown."""
    state = cache.get(_key(run_id)) or {}
    if state.get("phase") == "downloading":
        return f"Downloading the client list from XPM: {state['received'] / 2**20:.1f} MB so far"
    if state.get("phase") == "applying":
        return f"Applying clients: {state['applied']:,} of {state['total']:,}"
    return ""
