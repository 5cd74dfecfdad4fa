"""The search's trigram indexes (a PostgreSQL-only migration) are created and used."""

import importlib

import pytest
from django.db import connection

from clients.models import Client, ClientContact, Contact
from tests.factories import make_client
from xpmsync import bulk

migration = importlib.import_module("clients.migrations.0002_search_trigram_indexes")

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only"
)


def test_the_migration_creates_indexes_the_search_uses(firm_a):
    with connection.schema_editor() as editor:
        migration.create_indexes(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%%trgm_idx'")
        assert {row[0] for row in cursor.fetchall()} == set(migration.INDEXES)
        for n in range(200):
            make_client(firm_a, f"Client {n:03}")
        make_client(firm_a, "Harbourline Logistics")
        # What a big sync does afterwards: merge the indexes' pending lists, refresh statistics.
        bulk.settle(Client, Contact, ClientContact)
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Client.objects.filter(name__icontains="harbour").explain()
    assert "client_name_trgm_idx" in plan
    assert [c.name for c in Client.objects.filter(name__icontains="harbour")] == [
        "Harbourline Logistics"
    ]
    with connection.schema_editor() as editor:
        migration.drop_indexes(None, editor)


@pytest.mark.django_db(transaction=True)
def test_tidying_kept_waiting_is_cut_short_and_raises_nothing(firm_a, monkeypatch):
    """A VACUUM of the table holds the lock ANALYZE needs: settling gives up at its timeout
    instead of keeping a finished run from recording how it ended."""
    import threading
    from datetime import timedelta

    from django.db import transaction

    from tests.concurrency import InBackground

    monkeypatch.setattr(bulk, "SETTLE_TIMEOUT", timedelta(milliseconds=300))
    warnings: list[str] = []
    monkeypatch.setattr(bulk.logger, "warning", lambda message, *args: warnings.append(message))
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE clients_client IN SHARE UPDATE EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = InBackground(hold_the_table)
    try:
        assert locked.wait(10)
        bulk.settle(Client)
    finally:
        release.set()
        holder.result()
    assert warnings == ["Settling %s after a large sync was cut short"]
    bulk.settle(Client)  # and settles once nothing is in its way
