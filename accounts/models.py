from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

DEFAULT_TIME_ZONE = "Australia/Sydney"


class FirmScopedQuerySet(models.QuerySet):
    """The queryset of every tenant-owned model: ``for_firm`` is how views and tasks scope."""

    def for_firm(self, firm: Firm):
        return self.filter(firm=firm)


def connected_xpm_statuses() -> tuple[str, ...]:
    """The XPM connection states in which a firm counts as connected (and so requires MFA).

    xpmsync's own, imported when asked: xpmsync's models import these, so not at the top.
    """
    from xpmsync.models import XpmConnection

    return tuple(XpmConnection.CONNECTED_STATUSES)


class Firm(models.Model):
    """An accounting firm: the tenant every other row belongs to."""

    name = models.CharField(max_length=200)
    seat_limit = models.PositiveIntegerField(
        default=5, help_text="How many active users the firm's membership allows."
    )
    is_mfa_required_by_admin = models.BooleanField(
        "require MFA for everyone",
        default=False,
        help_text="Switched on by a firm admin; XPM connections require MFA regardless.",
    )
    # Every date and time the firm's users see is shown in this zone (see FirmTimeZoneMiddleware).
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        help_text="Dates and times in the portal and its emails are shown in this zone.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def requires_mfa(self) -> bool:
        """MFA is required while connected to XPM, or when an admin has switched it on."""
        return self.is_mfa_required_by_admin or self.is_connected_to_xpm

    @property
    def is_connected_to_xpm(self) -> bool:
        # Queried afresh each time: a connection made in another request counts at once.
        return Firm.objects.filter(
            pk=self.pk,
            xpm_connection__status__in=connected_xpm_statuses(),
        ).exists()

    def active_user_count(self) -> int:
        """Seats used: every active user, including those invited who have not signed in yet."""
        return self.users.filter(is_active=True).count()

    @property
    def zoneinfo(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone)
        except (ValueError, ZoneInfoNotFoundError):
            return ZoneInfo(DEFAULT_TIME_ZONE)


class UserManager(BaseUserManager.from_queryset(FirmScopedQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> User:
        """A platform operator: Django admin access, belongs to no firm."""
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # Email addresses are matched case-insensitively: one address, one user.
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address.

    Firm members belong to exactly one firm, with the role Firm admin or Firm user. Platform
    operators (``is_staff``, Django admin only) belong to none.
    """

    class Role(models.TextChoices):
        ADMIN = "admin", "Firm admin"
        USER = "user", "Firm user"

    firm = models.ForeignKey(
        Firm, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    email = models.EmailField("email address", unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.USER)
    is_active = models.BooleanField(
        "active", default=True, help_text="Inactive users cannot log in."
    )
    is_staff = models.BooleanField(
        "platform operator",
        default=False,
        help_text="Can log in to the Django admin. Not the same as a firm's staff.",
    )
    date_joined = models.DateTimeField(default=timezone.now)
    greeting = models.CharField(
        max_length=100, blank=True, help_text="How your emails to clients open, e.g. “Hi”."
    )
    sign_off = models.CharField(
        max_length=100,
        blank=True,
        help_text="How your emails to clients close, e.g. “Kind regards”.",
    )
    email_signature = models.TextField(
        blank=True, help_text="Added under your sign-off in emails to clients."
    )
    must_enrol_mfa = models.BooleanField(
        default=False, help_text="Set when an admin resets the user's MFA; cleared on enrolment."
    )
    # Part of the session hash: raising it ends every session of the user at once.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    if TYPE_CHECKING:
        # Set on request.user by django-otp's middleware.
        def is_verified(self) -> bool: ...

    class Meta:
        ordering = [Lower("first_name"), Lower("last_name"), "email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(firm__isnull=False) | models.Q(is_staff=True),
                name="user_in_firm_unless_operator",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def is_invited(self) -> bool:
        """Invited but has never chosen a password, so has never signed in."""
        return self.firm_id is not None and not self.has_usable_password()

    @property
    def is_firm_admin(self) -> bool:
        return self.firm_id is not None and self.role == self.Role.ADMIN

    @property
    def mfa_required(self) -> bool:
        """Whether this user must have MFA: firm policy, an admin's reset, or platform access."""
        if self.is_staff or self.must_enrol_mfa:
            return True
        return self.firm is not None and self.firm.requires_mfa

    @property
    def mfa_required_reason(self) -> str:
        if self.is_staff:
            return "Platform operators must use multi-factor authentication."
        if self.firm is not None and self.firm.requires_mfa:
            return "Your firm requires multi-factor authentication for everyone."
        return "An admin reset your multi-factor authentication, so you need to set it up again."

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django ties sessions to the password hash; the generation lets us end them without
        # a password change (MFA enrolment, MFA reset).
        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class AuditEvent(models.Model):
    """A security-relevant event in a firm, readable by its admins."""

    class Action(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        PASSWORD_CHECK_FAILED = "password_check_failed", "Wrong current password"
        REPEATED_FAILURES = "repeated_failures", "Repeated wrong passwords or codes"
        SUDO_CONFIRMED = "sudo_confirmed", "Confirmed it was them for an admin action"
        LOGOUT = "logout", "Logged out"
        EMAIL_CHANGED = "email_changed", "Email address changed"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        MFA_VERIFIED = "mfa_verified", "Verified with MFA"
        MFA_FAILED = "mfa_failed", "Wrong MFA code"
        BACKUP_CODE_USED = "backup_code_used", "Used a backup code"
        MFA_ENROLLED = "mfa_enrolled", "MFA enrolled"
        MFA_DISABLED = "mfa_disabled", "MFA disabled"
        MFA_RESET = "mfa_reset", "MFA reset by an admin"
        BACKUP_CODES_ISSUED = "backup_codes_issued", "New backup codes"
        PASSKEY_ADDED = "passkey_added", "Passkey added"
        PASSKEY_REMOVED = "passkey_removed", "Passkey removed"
        MFA_REMINDER_SENT = "mfa_reminder_sent", "MFA reminder sent"
        MFA_DIGEST_SENT = "mfa_digest_sent", "MFA digest sent to an admin"
        MFA_POLICY_CHANGED = "mfa_policy_changed", "MFA policy changed"
        XPM_CONNECTED = "xpm_connected", "Connected to Xero Practice Manager"
        XPM_DISCONNECTED = "xpm_disconnected", "Disconnected from Xero Practice Manager"
        XPM_NEEDS_RECONNECT = "xpm_needs_reconnect", "Xero connection needs reconnecting"
        XPM_CALL_FAILED = "xpm_call_failed", "A call to Xero failed"
        XPM_SYNC_HELD = "xpm_sync_held", "XPM sync held for review"
        XPM_SYNC_REVIEWED = "xpm_sync_reviewed", "Held XPM sync reviewed"
        XPM_SYNC_SUCCEEDED = "xpm_sync_succeeded", "XPM sync finished"
        XPM_SYNC_FAILED = "xpm_sync_failed", "XPM sync failed"
        CSV_IMPORTED = "csv_imported", "Clients imported from CSV"
        CLIENTS_MERGED = "clients_merged", "Duplicate clients merged"
        CLIENT_MERGE_UNDONE = "client_merge_undone", "Client merge undone"
        DUPLICATE_DISMISSED = "duplicate_dismissed", "Possible duplicate marked not the same"
        USER_INVITED = "user_invited", "User invited"
        INVITATION_RESENT = "invitation_resent", "Invitation sent again"
        USER_CHANGED = "user_changed", "User changed"
        USER_DELETED = "user_deleted", "User deleted"

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text so the log still reads correctly after the user is deleted.
    actor_email = models.EmailField(blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    detail = models.CharField(max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["firm", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_email or 'system'}"

    @property
    def detail_display(self) -> str:
        """The detail in plain words; user changes logged before they were phrased as such
        ("bob@…: is_active, role") are translated."""
        if self.action != self.Action.USER_CHANGED or ": " not in self.detail:
            return self.detail
        email, _, changed = self.detail.partition(": ")
        names = [name.strip() for name in changed.split(",")]
        if not all(name in _LEGACY_FIELD_LABELS for name in names):
            return self.detail
        return f"{email}: {', '.join(_LEGACY_FIELD_LABELS[name] for name in names)}"


_LEGACY_FIELD_LABELS = {
    "first_name": "First name changed",
    "last_name": "Last name changed",
    "email": "Email address changed",
    "role": "Role changed",
    "is_active": "Active or deactivated",
}


class BackupCodeQuerySet(models.QuerySet["BackupCode"]):
    def unused(self) -> BackupCodeQuerySet:
        return self.filter(used_at__isnull=True)


class BackupCode(models.Model):
    """A one-time MFA backup code, stored only as a SHA-256 of its 120 random bits.

    Like django-otp's devices it belongs to a user, not to a firm: it is only ever reached
    through the user it was issued to.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = BackupCodeQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Backup code of {self.user}"


class UserSession(models.Model):
    """One signed-in session of a user, listed under User Settings > Your sessions.

    The session itself lives in Django's session store under ``session_key``; ending it deletes
    it there. Like backup codes it belongs to a user and is only reached through them.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Refreshed at most once a minute, so browsing does not write a row per request.
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-id"]

    def __str__(self) -> str:
        return f"Session of {self.user}"


class MfaReminder(models.Model):
    """An email that asked a user to set up MFA, or told an admin who has not.

    Rows are written before the email goes out, and a scheduled email claims a unique ``slot``
    (``auto-2`` for a user's second automatic reminder, ``digest-2026-W07`` for an admin's
    digest of that week), so a task that runs twice sends nothing twice.
    """

    class Kind(models.TextChoices):
        START = "start", "The requirement started"
        SCHEDULED = "scheduled", "Scheduled reminder"
        MANUAL = "manual", "Sent by an admin"
        DIGEST = "digest", "Weekly digest to an admin"

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="mfa_reminders")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mfa_reminders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # NULL, not "", for unscheduled emails: NULLs never collide in the unique constraint.
    slot = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001
    sent_at = models.DateTimeField(default=timezone.now)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "slot"], name="mfa_reminder_slot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.user}"
