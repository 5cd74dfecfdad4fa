"""What the sandbox remembers between requests, as Xero would: grants, tokens, a scenario."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

ACCESS_LIFETIME = timedelta(minutes=30)
# A rotated refresh token stays usable this long, in case the answer to a refresh was lost.
REFRESH_GRACE = timedelta(minutes=30)


class Scenario(models.Model):
    """How the sandbox behaves: which tenants the consent gives, and which failure to play back.

    One row. ``failures_left`` counts down each time the failure is played; empty means always.
    """

    class Tenants(models.TextChoices):
        ONE = "one", "One XPM practice"
        SEVERAL = "several", "Two XPM practices and an accounting organisation"
        NONE = "none", "No XPM practice (staff permission missing)"

    class Failure(models.TextChoices):
        NONE = "", "None"
        UNAUTHORIZED = "401", "401 on the client list"
        FORBIDDEN = "403", "403 on the client list"
        RATE_LIMITED = "429", "429 with Retry-After on the client list"
        SERVER_ERROR = "500", "500 on the client list"
        SLOW = "slow", "A slow client list (3 seconds)"
        MALFORMED = "malformed", "Malformed XML"
        STATUS_ERROR = "status_error", "<Status>ERROR</Status>"
        INVALID_GRANT = "invalid_grant", "invalid_grant on refresh"

    tenants = models.CharField(max_length=10, choices=Tenants.choices, default=Tenants.ONE)
    failure = models.CharField(max_length=20, choices=Failure.choices, blank=True, default="")
    failures_left = models.PositiveIntegerField(null=True, blank=True)
    client_count = models.PositiveIntegerField(null=True, blank=True)
    seed = models.PositiveIntegerField(default=2026)

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


class Grant(models.Model):
    code = models.CharField(max_length=64, unique=True)
    redirect_uri = models.CharField(max_length=500)
    code_challenge = models.CharField(max_length=128)
    scope = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    is_used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Grant {self.code[:6]}…"


class Token(models.Model):
    access_token = models.CharField(max_length=64, unique=True)
    refresh_token = models.CharField(max_length=64, unique=True)
    access_expires_at = models.DateTimeField()
    replaced_at = models.DateTimeField(null=True, blank=True)
    is_revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Token {self.access_token[:6]}…"

    @classmethod
    def issue(cls) -> "Token":
        from secrets import token_urlsafe

        return cls.objects.create(
            access_token=token_urlsafe(32),
            refresh_token=token_urlsafe(32),
            access_expires_at=timezone.now() + ACCESS_LIFETIME,
        )

    @property
    def refresh_usable(self) -> bool:
        if self.is_revoked:
            return False
        return self.replaced_at is None or timezone.now() - self.replaced_at < REFRESH_GRACE
