"""The passkey relying party, checked against SITE_URL when the settings load.

Passkeys are bound to the relying party id (a host name) when they are registered; a browser
offers them only on that host or its subdomains, and the server accepts an answer only from an
allowed origin. Both come from SITE_URL, so a mismatch would let every registration fail with
an error users cannot act on. Production refuses to start instead.

Nothing here needs Django to be set up: the settings module calls it.
"""

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_relying_party(site_url: str, rp_id: str) -> None:
    """Raise ImproperlyConfigured unless passkeys can work at ``site_url`` with ``rp_id``.

    The relying party id must be SITE_URL's host or a domain it belongs to (``example.com`` for
    ``portal.example.com``), SITE_URL must be HTTPS, and its host a name, not an IP address.
    """
    parts = urlsplit(site_url)
    host = (parts.hostname or "").lower()
    rp_id = rp_id.lower()
    if parts.scheme != "https":
        raise ImproperlyConfigured(
            f"SITE_URL must be an https:// address when DEBUG is off (it is {site_url!r}): "
            "browsers allow passkeys only on secure origins."
        )
    if not host or _is_ip_address(host):
        raise ImproperlyConfigured(
            f"SITE_URL's host must be a domain name, not {host!r}: browsers refuse passkeys on "
            "an IP address."
        )
    if not rp_id or not (host == rp_id or host.endswith("." + rp_id)):
        raise ImproperlyConfigured(
            f"WEBAUTHN_RP_ID ({rp_id!r}) must be SITE_URL's host ({host!r}) or a domain it "
            "belongs to; passkeys registered for one would not work on the other."
        )
