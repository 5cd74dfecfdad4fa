from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

from accounts.models import Firm, FirmScopedQuerySet, User

from . import tokens

QUICK_SYNC_CHOICES = [
    (15, "Every 15 minutes"),
    (30, "Every 30 minutes"),
    (60, "Every hour"),
    (120, "Every 2 hours"),
    (240, "Every 4 hours"),
    (0, "Off (the nightly full sync only)"),
]


class XpmConnection(models.Model):
    """A firm's link to its Xero Practice Manager tenant, with its OAuth tokens encrypted."""

    class Status(models.TextChoices):
        CHOOSING = "choosing", "Waiting for the admin to choose a practice"
        ACTIVE = "active", "Connected"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnecting"
        # Xero refused the portal's own app credentials (invalid_client): the operators must fix
        # them; the next sync tries again and, when Xero accepts, the connection is active again.
        NEEDS_ATTENTION = "needs_attention", "Needs attention"

    CONNECTED_STATUSES = (Status.ACTIVE, Status.NEEDS_RECONNECT, Status.NEEDS_ATTENTION)
    # Statuses in which a sync may be attempted.
    SYNCABLE_STATUSES = (Status.ACTIVE, Status.NEEDS_ATTENTION)

    firm = models.OneToOneField(Firm, on_delete=models.CASCADE, related_name="xpm_connection")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CHOOSING)
    tenant_id = models.CharField(max_length=64, blank=True)
    # Xero's tenantName, which can be null for a PRACTICEMANAGER tenant: kept blank then, and
    # ``practice_label`` gives pages a name to show.
    tenant_name = models.CharField("practice name", max_length=255, blank=True)
    # Xero's id for this app-to-tenant connection, used to disconnect it.
    xero_connection_id = models.CharField(max_length=64, blank=True)
    # The PRACTICEMANAGER tenants offered when the admin has several to choose from.
    tenant_choices = models.JSONField(default=list, blank=True)
    connected_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    # The Xero user who authorised the connection, from the ID token. Xero's tokens are per user
    # per app, so revoking one ends every connection that user made: it decides whether a
    # disconnect may revoke.
    xero_user_id = models.CharField(max_length=64, blank=True, db_index=True)
    xero_user_name = models.CharField(max_length=255, blank=True)
    xero_user_email = models.CharField(max_length=254, blank=True)
    # Xero's id for the consent that created this connection (the access token's
    # authentication_event_id), shared by every tenant connected in that consent.
    auth_event_id = models.CharField(max_length=64, blank=True)
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    token_refreshed_at = models.DateTimeField(null=True, blank=True)
    reconnect_email_sent_at = models.DateTimeField(null=True, blank=True)
    # Between the nightly full syncs, a quick sync of what XPM modified this often (0: never).
    quick_sync_minutes = models.PositiveSmallIntegerField(
        "quick syncs", choices=QUICK_SYNC_CHOICES, default=60
    )
    # How many clients the practice's last full list held (0: not known yet); large practices
    # sync on a queue of their own.
    practice_size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = FirmScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.firm}: {self.practice_label} ({self.get_status_display()})"

    @property
    def practice_label(self) -> str:
        return practice_label(self.tenant_name, self.tenant_id)

    @property
    def practice_choices(self) -> list[dict]:
        """The practices offered for the admin to choose from, each with a label to show."""
        return [
            {**t, "label": practice_label(t.get("tenantName"), t["tenantId"])}
            for t in self.tenant_choices
        ]

    @property
    def is_connected(self) -> bool:
        return self.status in self.CONNECTED_STATUSES

    @property
    def needs_reconnect(self) -> bool:
        return self.status == self.Status.NEEDS_RECONNECT

    @property
    def needs_attention(self) -> bool:
        return self.status == self.Status.NEEDS_ATTENTION

    @property
    def access_token(self) -> str:
        return tokens.decrypt(self.access_token_encrypted)

    @property
    def refresh_token(self) -> str:
        return tokens.decrypt(self.refresh_token_encrypted)

    def set_tokens(self, token: dict) -> None:
        """Store a token response from Xero (access, refresh and lifetime), encrypted."""
        self.access_token_encrypted = tokens.encrypt(token["access_token"])
        self.refresh_token_encrypted = tokens.encrypt(token.get("refresh_token", ""))
        lifetime = int(token.get("expires_in", 1800))
        self.access_token_expires_at = timezone.now() + timedelta(seconds=lifetime)
        self.token_refreshed_at = timezone.now()

    def access_token_is_fresh(self, margin: timedelta = timedelta(minutes=2)) -> bool:
        expires_at = self.access_token_expires_at
        return (
            bool(self.access_token_encrypted)
            and expires_at is not None
            and (expires_at - margin > timezone.now())
        )

    def clear_tokens(self) -> None:
        self.access_token_encrypted = ""
        self.refresh_token_encrypted = ""
        self.access_token_expires_at = None


def practice_label(tenant_name: str | None, tenant_id: str) -> str:
    """The practice's name, or, when Xero sends none, a label that still tells practices apart."""
    if tenant_name and tenant_name.strip():
        return tenant_name.strip()
    short = tenant_id.replace("-", "")[:8].upper()
    return f"Xero Practice Manager ({short})" if short else "Xero Practice Manager"


class SyncRunQuerySet(FirmScopedQuerySet):
    def active(self) -> SyncRunQuerySet:
        return self.filter(status__in=SyncRun.ACTIVE_STATUSES)

    def as_left_by(self, run: SyncRun) -> SyncRunQuerySet:
        """``run``'s row only while it is as this attempt of it left it (the same status and
        attempt): the fence that a run which lost its claim on the firm cannot pass."""
        return self.filter(pk=run.pk, status=run.status, attempts=run.attempts)


class SyncRun(models.Model):
    """One sync of a firm's clients from XPM: who asked, what happened, what it changed."""

    class Trigger(models.TextChoices):
        FIRST = "first", "First sync"
        MANUAL = "manual", "Sync Now"
        SCHEDULED = "scheduled", "Daily sync"
        REVIEWED = "reviewed", "Applied after review"
        QUICK = "quick", "Quick sync"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # XPM's list looked like it would wipe the firm: nothing was changed, an admin decides.
        HELD = "held", "Held for review"

    class Kind(models.TextChoices):
        FULL = "full", "Full"
        QUICK = "quick", "Quick (changes only)"

    class Decision(models.TextChoices):
        NONE = "", "Undecided"
        APPLIED = "applied", "Applied anyway"
        KEPT = "kept", "Clients kept"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    COUNTS = (
        "clients_created",
        "clients_updated",
        "clients_unchanged",
        "clients_archived",
        "clients_restored",
        "contacts_created",
        "contacts_updated",
        "contacts_unlinked",
    )

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    # A full run reads the whole practice; a quick one only the clients XPM modified since
    # ``modified_since`` (the last successful run's start, less a margin).
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FULL)
    modified_since = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(default=timezone.now)
    # When it was meant to start: queued_at, or later for a scheduled run given its slot.
    due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running sync holds the firm's lease until then; past it, the worker is presumed dead.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # Why a run failed, in plain words with what to do; the technical detail for support.
    error = models.TextField(blank=True)
    error_detail = models.TextField(blank=True)
    api_calls = models.PositiveIntegerField(default=0)
    rate_limits = models.JSONField(default=dict, blank=True)
    # A run an admin approved after a hold applies the list even if it looks suspicious.
    skip_safety_check = models.BooleanField(default=False)
    # For a held run: what an admin decided, who and when.
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["firm", "-queued_at"])]
        constraints = [
            # The lock: at most one queued or running sync per firm.
            models.UniqueConstraint(
                fields=["firm"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_sync_per_firm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} of {self.firm} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def description(self) -> str:
        """How emails and pages name this run: "The first sync", "The daily sync", ..."""
        descriptions: dict[str, str] = {
            self.Trigger.FIRST: "The first sync",
            self.Trigger.MANUAL: "The sync you started",
            self.Trigger.SCHEDULED: "The daily sync",
            self.Trigger.REVIEWED: "The sync applied after review",
            self.Trigger.QUICK: "The quick sync",
        }
        return descriptions[self.trigger]

    @property
    def is_quick(self) -> bool:
        return self.kind == self.Kind.QUICK

    @property
    def awaits_decision(self) -> bool:
        return self.status == self.Status.HELD and not self.decision

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def changed_nothing(self) -> bool:
        """A finished run that found the portal already matching XPM."""
        return self.status == self.Status.SUCCEEDED and not any(
            self.count(name) for name in self.COUNTS if name != "clients_unchanged"
        )
