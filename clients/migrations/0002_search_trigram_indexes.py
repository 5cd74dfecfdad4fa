"""Trigram indexes for the client list's search, on PostgreSQL only.

The search matches any part of a client's name or email or a contact's name, case-insensitively
(Django's icontains: ``UPPER(column) LIKE UPPER('%text%')``), which no B-tree index can serve.
GIN indexes with pg_trgm's operator class can, on exactly those expressions. They live in a
migration rather than in the models' Meta because SQLite, the development default, has neither
the extension nor GIN; there the search scans, which is fine at development sizes.
"""

from django.db import migrations

INDEXES = {
    "client_name_trgm_idx": ("clients_client", "name"),
    "client_email_trgm_idx": ("clients_client", "email"),
    "contact_name_trgm_idx": ("clients_contact", "name"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops) '
            # A sync's new rows wait in a pending list merged in one pass after the sync
            # (xpmsync.bulk.settle), not merged 4 MB at a time as they arrive.
            "WITH (gin_pending_list_limit = 65536)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("clients", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
