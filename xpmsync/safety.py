"""The check that keeps an XPM answer from wiping a firm's clients.

XPM answering OK with a fraction of the practice (a permission change, an outage on Xero's
side) must not archive a firm's clients overnight. An empty list, or one that would archive more
than XPM_HOLD_SHARE of the firm's synced clients and at least XPM_HOLD_MIN_CLIENTS of them, is
held: the sync rolls back and an admin decides.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass
class HeldForReview(Exception):
    """The list would archive too much of the firm: nothing was applied."""

    listed: int  # active clients in XPM's answer
    synced: int  # active XPM clients the portal holds
    would_archive: int

    def __str__(self) -> str:
        return (
            f"XPM returned {self.listed:,} of your {self.synced:,} clients. Applying it would "
            f"archive {self.would_archive:,} of them, so nothing was changed until an admin "
            "reviews it."
        )


def check(*, listed: int, synced: int, would_archive: int) -> None:
    """Raise HeldForReview when applying the list would wipe the firm."""
    too_many = would_archive >= settings.XPM_HOLD_MIN_CLIENTS and (
        would_archive > settings.XPM_HOLD_SHARE * synced
    )
    if synced and (listed == 0 or too_many):
        raise HeldForReview(listed=listed, synced=synced, would_archive=would_archive)
