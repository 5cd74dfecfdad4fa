"""What a sync changed, record by record, for each client's History tab and the run's page.

One compact row per client or contact the sync changed, archived or restored, written in bulk
in the sync's own transaction (so a rolled-back run leaves none). Additions need no row: a
record's creation time and source say when and how it arrived (``clients.history`` shows
them), which keeps a first sync of a large practice from writing its size twice. The old values
of changed rows are read once per batch, only for the rows whose values changed, before they
are overwritten: an unchanged practice costs no query and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from accounts.models import Firm
from clients.models import Change, Client, Contact

from . import bulk
from .fields import CLIENT_FIELDS, CONTACT_FIELDS


class Timeline:
    """Collects one sync's changes and writes them a batch at a time."""

    def __init__(self, firm: Firm, *, run_id: int | None, enabled: bool = True) -> None:
        self.firm = firm
        self.run_id = run_id
        self.enabled = enabled
        self.now = timezone.now()
        self.rows: list[dict] = []

    def _add(self, action: str, changes: dict | None = None, **target: int) -> None:
        self.rows.append(
            {
                "firm_id": self.firm.pk,
                "action": action,
                "source": Change.Source.XPM.value,
                "sync_run_id": self.run_id,
                "changed_at": self.now,
                "changes": changes or {},
                # Every row names both columns: COPY writes the same columns for each.
                "client_id": None,
                "contact_id": None,
                **target,
            }
        )

    def archived(self, client_ids: Iterable[int], *, restored: bool = False) -> None:
        if not self.enabled:
            return
        action = Change.Action.RESTORED if restored else Change.Action.ARCHIVED
        for pk in client_ids:
            self._add(action.value, client_id=pk)

    def updated_clients(self, new_values: dict[int, dict]) -> None:
        """Clients about to be overwritten with ``new_values`` (by id): record what differs."""
        self._updated(Client, CLIENT_FIELDS, new_values, "client_id")

    def updated_contacts(self, new_values: dict[int, dict]) -> None:
        self._updated(Contact, CONTACT_FIELDS, new_values, "contact_id")

    def _updated(self, model, names: list[str], new_values: dict[int, dict], target: str) -> None:
        if not self.enabled or not new_values:
            return
        old_rows = model.objects.filter(pk__in=list(new_values)).values_list("id", *names)
        for pk, *old in old_rows:
            new = new_values[pk]
            changes = {
                name: [before, new[name]]
                for name, before in zip(names, old, strict=True)
                if before != new[name]
            }
            if changes:
                self._add(Change.Action.UPDATED.value, changes, **{target: pk})

    def flush(self) -> None:
        """Write what the batch changed."""
        if self.rows:
            bulk.insert(Change, self.rows, ids=False)
            self.rows = []
