from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property

from accounts.models import Firm, FirmScopedQuerySet, User


class Client(models.Model):
    """A client of an accounting firm: entered by hand, imported from CSV or synced from XPM."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        ORGANISATION = "organisation", "Organisation"

    class Source(models.TextChoices):
        MANUAL = "manual", "Added by hand"
        CSV = "csv", "CSV import"
        XPM = "xpm", "Xero Practice Manager"

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="clients")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ORGANISATION)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    website = models.CharField(max_length=255, blank=True)
    address = models.TextField("street address", blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    postal_address = models.TextField(blank=True)
    postal_city = models.CharField(max_length=100, blank=True)
    postal_region = models.CharField("postal state or region", max_length=100, blank=True)
    postal_postcode = models.CharField(max_length=20, blank=True)
    postal_country = models.CharField(max_length=100, blank=True)
    is_prospect = models.BooleanField("prospect", default=False)
    is_archived = models.BooleanField("archived", default=False)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)

    # Fields that only XPM fills in.
    xpm_uuid = models.UUIDField("XPM UUID", null=True, blank=True)
    business_structure = models.CharField(max_length=100, blank=True)
    client_type = models.CharField("XPM client type", max_length=100, blank=True)
    account_manager = models.CharField(max_length=200, blank=True)
    job_manager = models.CharField(max_length=200, blank=True)
    company_number = models.CharField(max_length=50, blank=True)
    business_number = models.CharField(max_length=50, blank=True)
    referral_source = models.CharField(max_length=200, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "xpm_uuid"],
                condition=models.Q(xpm_uuid__isnull=False),
                name="client_xpm_uuid_unique_per_firm",
            ),
        ]
        indexes = [
            models.Index("firm", Lower("name"), name="client_firm_name_idx"),
            # The client list's default view: one firm's current clients in name order.
            models.Index(
                "firm", "is_archived", "is_prospect", Lower("name"), "id", name="client_list_idx"
            ),
            models.Index(fields=["firm", "-created_at"], name="client_firm_created_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_from_xpm(self) -> bool:
        return self.source == self.Source.XPM

    @cached_property
    def is_managed_by_xpm(self) -> bool:
        """Whether XPM owns this client's details (synced, and the firm still connected), so
        the portal shows them read-only. After a disconnect they become editable."""
        return self.is_from_xpm and self.firm.is_connected_to_xpm

    @property
    def full_address(self) -> str:
        return _address(self.address, self.city, self.region, self.postcode, self.country)

    @property
    def full_postal_address(self) -> str:
        return _address(
            self.postal_address,
            self.postal_city,
            self.postal_region,
            self.postal_postcode,
            self.postal_country,
        )


def _address(street: str, city: str, region: str, postcode: str, country: str) -> str:
    locality = " ".join(part for part in (city, region, postcode) if part)
    return "\n".join(part for part in (street, locality, country) if part)


# Salutations that are titles, not names: XPM's Salutation sometimes holds "Mr" rather than the
# name a letter opens with, and "Hi Mr," is not a greeting.
TITLES = frozenset(
    ["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "rev", "reverend",
     "fr", "hon", "lord", "lady", "master", "madam", "mister", "and", "&"]
)  # fmt: skip


def is_title_only(salutation: str) -> bool:
    words = salutation.casefold().replace(".", " ").split()
    return bool(words) and all(word in TITLES for word in words)


class Contact(models.Model):
    """A person at one or more clients. XPM contacts can belong to several clients."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="contacts")
    xpm_uuid = models.UUIDField("XPM UUID", null=True, blank=True)
    name = models.CharField("full name", max_length=255)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    salutation = models.CharField(max_length=100, blank=True)
    addressee = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    mobile = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "xpm_uuid"],
                condition=models.Q(xpm_uuid__isnull=False),
                name="contact_xpm_uuid_unique_per_firm",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def greeting_name(self) -> str:
        """How an email to this contact opens: the salutation, else the first name.

        A salutation that is only a title ("Mr", "Dr.") gives way to the first name.
        """
        if self.salutation and not is_title_only(self.salutation):
            return self.salutation
        return self.first_name or self.name


class ClientContact(models.Model):
    """A contact's role at one client."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="links")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="links")
    position = models.CharField(max_length=150, blank=True)
    # Flagged primary in XPM (at most one per client there; zero is common).
    is_xpm_primary = models.BooleanField(default=False)
    # The primary contact the portal uses: exactly one per client that has contacts.
    is_primary = models.BooleanField(default=False)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "contact"], name="client_contact_unique"),
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(is_primary=True),
                name="one_primary_contact_per_client",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} at {self.client}"

    @property
    def primary_chosen_by_rule(self) -> bool:
        return self.is_primary and not self.is_xpm_primary

    @property
    def is_portal_only(self) -> bool:
        """A contact that only the portal has, on a client that comes from XPM (kept by a
        merge): syncs leave it alone."""
        return self.client.xpm_uuid is not None and self.contact.xpm_uuid is None


class ClientImport(models.Model):
    """An uploaded CSV client list between its preview and its confirmation."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed"
        APPLIED = "applied", "Imported"

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    filename = models.CharField(max_length=255)
    # The rows as read from the file; checked again when the import is applied.
    rows = models.JSONField(default=list)
    # Headers of the file that match no column the portal imports, shown on the preview.
    ignored_columns = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEWED)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    objects = FirmScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return self.filename


class Change(models.Model):
    """One record's change on a client's timeline: which fields changed, from what to what, and
    who or what changed them. A sync writes one row per client or contact it changed."""

    class Action(models.TextChoices):
        CREATED = "created", "Added"
        UPDATED = "updated", "Changed"
        ARCHIVED = "archived", "Archived"
        RESTORED = "restored", "Restored"

    class Source(models.TextChoices):
        XPM = "xpm", "XPM sync"
        MANUAL = "manual", "Edited in the portal"
        CSV = "csv", "CSV import"

    # Not indexed on its own: every query also names the client, the contact or the run.
    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+", db_index=False)
    # One of the two: a client's own change, or a contact's (shown on each of its clients).
    # Indexed below, with the time, rather than alone: a sync may add a row per record.
    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="changes",
        db_index=False,
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="changes",
        db_index=False,
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    # The XPM sync run that made it (a plain id: clients does not depend on xpmsync).
    sync_run_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    changed_at = models.DateTimeField(default=timezone.now)
    # {field name: [old value, new value]}; empty for additions, archiving and restoring.
    changes = models.JSONField(default=dict, blank=True)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-id"]
        # Few indexes, for a table a first sync fills with a row per client and contact: a
        # client's and a contact's timeline (and their cascade on delete; each row is in one
        # of the two), a run's page (the run id's own index), and the rare rows a person made
        # (for the user's deletion).
        indexes = [
            models.Index(
                fields=["client", "-changed_at"],
                name="change_client_time",
                condition=models.Q(client__isnull=False),
            ),
            models.Index(
                fields=["contact", "-changed_at"],
                name="change_contact_time",
                condition=models.Q(contact__isnull=False),
            ),
            models.Index(
                fields=["actor"], name="change_actor", condition=models.Q(actor__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.get_source_display()})"


class DuplicatePair(models.Model):
    """A client added by hand or by CSV that is probably the same as one from XPM.

    Found after every sync and CSV import (``clients.duplicates.refresh_duplicates``) and kept
    until the next look, a merge or a "Not the same" removes it.
    """

    class Confidence(models.TextChoices):
        SAME = "same", "Same client"
        LIKELY = "likely", "Likely the same"

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    # The client the portal made (by hand or CSV); it survives a merge.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    xpm_client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    confidence = models.CharField(max_length=10, choices=Confidence.choices)
    # Why, in plain words: "Same name", "Same email", "Similar name (82%)".
    reasons = models.JSONField(default=list)
    similarity = models.FloatField(default=0)
    found_at = models.DateTimeField(default=timezone.now)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-similarity", "id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "xpm_client"], name="duplicate_pair_once"),
        ]
        indexes = [models.Index(fields=["firm", "confidence"], name="duplicate_firm_conf_idx")]

    def __str__(self) -> str:
        return f"{self.client} / {self.xpm_client}"


class DuplicateDismissal(models.Model):
    """An admin's "Not the same": the pair is never proposed again."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    xpm_client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "xpm_client"], name="duplicate_dismissed_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} is not {self.xpm_client}"


class ClientMerge(models.Model):
    """One merge of a portal client with its XPM twin, with what undoing it needs.

    ``snapshot`` holds both sides as they were (the client rows, their contact links, and the
    portal's contacts that the merge removed as duplicates of XPM's), so the merge can be
    undone for ``UNDO_DAYS`` and the audit log can point at both sides' values.
    """

    UNDO_DAYS = 30

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="+")
    # The surviving client: the portal's row, now carrying XPM's UUID and values.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="merges")
    client_name = models.CharField(max_length=255)
    xpm_client_name = models.CharField(max_length=255)
    snapshot = models.JSONField(default=dict)
    merged_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)

    objects = FirmScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.client_name} merged with {self.xpm_client_name}"

    @property
    def undo_until(self):
        return self.merged_at + timedelta(days=self.UNDO_DAYS)

    @property
    def can_undo(self) -> bool:
        return self.undone_at is None and timezone.now() < self.undo_until
