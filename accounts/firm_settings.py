"""Settings an admin chooses for the whole firm (other than its MFA policy)."""

from zoneinfo import ZoneInfo

from .models import Firm, User


def set_time_zone(firm: Firm, time_zone: str, *, by: User) -> None:
    """Show every date and time of ``firm`` in ``time_zone`` (an IANA name) from now on."""
    ZoneInfo(time_zone)  # refuses a name the system does not know
    firm.time_zone = time_zone
    firm.save(update_fields=["time_zone"])
