from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Firm


class ClientQuerySet(models.QuerySet["Client"]):
    def for_firm(self, firm: Firm) -> ClientQuerySet:
        return self.filter(firm=firm)


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
    is_prospect = models.BooleanField("prospect", default=False)
    is_archived = models.BooleanField("archived", default=False)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    xpm_uuid = models.UUIDField("XPM UUID", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "xpm_uuid"],
                condition=models.Q(xpm_uuid__isnull=False),
                name="client_xpm_uuid_unique_per_firm",
            ),
        ]
        indexes = [models.Index("firm", Lower("name"), name="client_firm_name_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_from_xpm(self) -> bool:
        return self.xpm_uuid is not None
