"""What the sandbox remembers between requests, as Xero would: grants, tokens, connections and
a scenario.

As at Xero, tokens belong to a Xero user and our app, and a consent connects that user's chosen
tenants to the app: each (user, tenant) pair is one connection with an ``id``, stamped with the
consent's ``authEventId``. Revoking a refresh token ends every connection of its user.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

ACCESS_LIFETIME = timedelta(minutes=30)
# Where the scenario allows it, a rotated refresh token stays usable this long, in case the
# answer to a refresh was lost (Xero documents such a grace period).
REFRESH_GRACE = timedelta(minutes=30)

# The Xero users who can sign in to the sandbox's consent page.
XERO_USERS = {
    "alex": {
        "xero_userid": "3f0c8a52-5d1e-4b8e-9a64-2d1b7c0e9a11",
        "given_name": "Alex",
        "family_name": "Admin",
        "email": "alex.admin@harbourview.example",
    },
    "sam": {
        "xero_userid": "8b2d4e6f-1a3c-4e5b-8d7f-9a0b1c2d3e22",
        "given_name": "Sam",
        "family_name": "Second",
        "email": "sam.second@harbourview.example",
    },
}


class Scenario(models.Model):
    """How the sandbox behaves: the tenants a consent gives, how Xero names them, and the
    failure to play back.

    One row. ``failures_left`` counts down each time the failure is played; empty means always.
    """

    class Tenants(models.TextChoices):
        ONE = "one", "One XPM practice"
        SEVERAL = "several", "Two XPM practices and an accounting organisation"
        NONE = "none", "No XPM practice (staff permission missing)"

    class TenantNames(models.TextChoices):
        NAMED = "named", "Named"
        NULL = "null", "tenantName null (as in Xero's own example)"
        MISSING = "missing", "tenantName left out"
        EMPTY = "empty", "tenantName empty"

    class Failure(models.TextChoices):
        NONE = "", "None"
        UNAUTHORIZED = "401", "401 on the client list"
        FORBIDDEN = "403", "403 on the client list"
        RATE_LIMITED = "429", "429 with Retry-After on the client list"
        SERVER_ERROR = "500", "500 on the client list"
        SLOW = "slow", "A slow client list (arriving over 3 seconds)"
        MALFORMED = "malformed", "Malformed XML"
        STATUS_ERROR = "status_error", "<Status>ERROR</Status>"
        NOT_XML = "not_xml", "An HTML page instead of the client list"
        EMPTY_LIST = "empty_list", "An OK client list with no clients"
        INVALID_GRANT = "invalid_grant", "invalid_grant on refresh"
        INVALID_CLIENT = "invalid_client", "invalid_client on refresh"
        CONNECTIONS_NOT_JSON = "connections_html", "/connections answers an HTML page"

    tenants = models.CharField(max_length=10, choices=Tenants.choices, default=Tenants.ONE)
    tenant_names = models.CharField(
        max_length=10, choices=TenantNames.choices, default=TenantNames.NAMED
    )
    # Off: a refresh token works once, as the strictest reading of Xero's rotation. On: the old
    # one keeps working for REFRESH_GRACE after it was used.
    refresh_grace = models.BooleanField(default=False)
    failure = models.CharField(max_length=20, choices=Failure.choices, blank=True, default="")
    failures_left = models.PositiveIntegerField(null=True, blank=True)
    client_count = models.PositiveIntegerField(null=True, blank=True)
    seed = models.PositiveIntegerField(default=2026)
    # When the generated practice's clients were last modified, for ``modifiedsince``; an
    # Edit gives one client a later time.
    practice_modified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.get_tenants_display()}; failure: {self.get_failure_display()}"

    @classmethod
    def current(cls) -> "Scenario":
        scenario, _ = cls.objects.get_or_create(pk=1)
        return scenario

    @property
    def practice_size(self) -> int:
        return self.client_count if self.client_count is not None else settings.XPM_SANDBOX_CLIENTS

    def play(self, failure: str) -> bool:
        """Whether to play ``failure`` now (counting it down)."""
        if self.failure != failure or self.failures_left == 0:
            return False
        if self.failures_left is not None:
            Scenario.objects.filter(pk=self.pk).update(failures_left=models.F("failures_left") - 1)
        return True


class Edit(models.Model):
    """A client of the generated practice changed in "XPM" (from the control page)."""

    client_number = models.PositiveIntegerField(unique=True)
    email = models.CharField(max_length=254)
    modified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Client {self.client_number + 1}: {self.email}"


class Grant(models.Model):
    code = models.CharField(max_length=64, unique=True)
    redirect_uri = models.CharField(max_length=500)
    code_challenge = models.CharField(max_length=128)
    scope = models.CharField(max_length=500)
    xero_user = models.CharField(max_length=20, default="alex")
    created_at = models.DateTimeField(default=timezone.now)
    is_used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Grant {self.code[:6]}…"


class Token(models.Model):
    # A JWT, as Xero's access tokens are; the refresh token is opaque.
    access_token = models.CharField(max_length=2000, unique=True)
    refresh_token = models.CharField(max_length=64, unique=True)
    xero_user = models.CharField(max_length=20, default="alex")
    auth_event_id = models.CharField(max_length=36, blank=True)
    access_expires_at = models.DateTimeField()
    replaced_at = models.DateTimeField(null=True, blank=True)
    is_revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Token of {self.xero_user}"

    @property
    def access_usable(self) -> bool:
        return not self.is_revoked and self.access_expires_at > timezone.now()

    def refresh_usable(self, *, grace: bool) -> bool:
        if self.is_revoked:
            return False
        if self.replaced_at is None:
            return True
        return grace and timezone.now() - self.replaced_at < REFRESH_GRACE


class Connection(models.Model):
    """One tenant connected to the app by one Xero user."""

    id = models.CharField(primary_key=True, max_length=36)
    xero_user = models.CharField(max_length=20)
    tenant_id = models.CharField(max_length=36)
    auth_event_id = models.CharField(max_length=36)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["xero_user", "tenant_id"], name="one_per_user_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.xero_user} → {self.tenant_id}"

    @staticmethod
    def id_for(xero_user: str, tenant_id: str) -> str:
        """Xero gives each user's connection to a tenant its own id."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"xero-sandbox:{xero_user}:{tenant_id}"))
