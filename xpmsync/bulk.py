"""Inserting and updating many rows quickly, for the sync.

On PostgreSQL new rows go in with one ``COPY`` each call, their ids taken from the table's
sequence beforehand in one query: several times faster than ``bulk_create``, whose cost is mostly
Django compiling an INSERT per object. Changed rows are updated from a VALUES list joined on the
id, where ``bulk_update`` builds a CASE per field with a WHEN per row (2.5 ms of Python per
client row). Elsewhere (SQLite for development) they are ``bulk_create`` and ``bulk_update``.
Either way the statements pass through the connection's execute wrappers, so anything counting
queries (the benchmark, the tests) sees them.

Values must already be what the database stores (str, int, bool, aware datetimes, UUIDs, and
for JSON columns the Python value);
columns a row leaves out get their field's default, evaluated once per call.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from django.db import OperationalError, connection, models, transaction

BATCH_SIZE = 1000
# The most that tidying after a large sync may take (settle): well inside a run's lease from
# its commit (run_limits.FINISHING), so the run still records how it ended.
SETTLE_TIMEOUT = timedelta(minutes=1)

logger = logging.getLogger(__name__)


def insert(model: type[models.Model], rows: Sequence[dict], *, ids: bool = True) -> list[int]:
    """Insert ``rows`` (field attname -> value) into ``model``'s table; return the new ids in order.

    With ``ids=False`` on PostgreSQL the ids are left to the database and an empty list is
    returned (saves a query where nobody needs them).
    """
    if not rows:
        return []
    fields = _fields(model, rows[0])
    if connection.vendor != "postgresql":
        objects = [model(**_complete(row, fields)) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=BATCH_SIZE)
        return [obj.pk for obj in objects]
    new_ids = _next_ids(model, len(rows)) if ids else []
    columns = [field.column for field in fields]
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}
    names = [field.attname for field in fields]
    # COPY takes JSON columns as text.
    as_json = {field.attname for field in fields if isinstance(field, models.JSONField)}
    if new_ids:
        columns.insert(0, model._meta.pk.column)
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(column) for column in columns)
    )
    with connection.cursor() as cursor:

        def copy_rows(sql, params, many, context):
            with cursor.cursor.copy(sql) as copy:
                for index, row in enumerate(rows):
                    values = [row[n] if n in row else defaults[n] for n in names]
                    if as_json:
                        values = [
                            json.dumps(v) if n in as_json else v
                            for n, v in zip(names, values, strict=True)
                        ]
                    if new_ids:
                        values.insert(0, new_ids[index])
                    copy.write_row(values)

        _through_wrappers(cursor, sql, copy_rows)
    return new_ids


def update(model: type[models.Model], rows: Sequence[dict], fields: Sequence[str]) -> None:
    """Set ``fields`` on every row of ``rows`` (attname -> value, with the primary key's)."""
    if not rows:
        return
    pk = model._meta.pk.attname
    if connection.vendor != "postgresql":
        objects = [model(**row) for row in rows]
        model._default_manager.bulk_update(objects, fields, batch_size=BATCH_SIZE)
        return
    quote = connection.ops.quote_name
    targets: list[models.Field] = [model._meta.get_field(name) for name in fields]  # type: ignore[misc]
    columns = [str(f.column) for f in targets]
    # Parameters in a VALUES list arrive untyped, so each is cast to its column's type.
    assignments = ", ".join(
        f"{quote(column)} = new.{quote(column)}::{f.db_type(connection)}"
        for column, f in zip(columns, targets, strict=True)
    )
    names = ", ".join(quote(column) for column in columns)
    table, key = quote(model._meta.db_table), quote(str(model._meta.pk.column))
    placeholders = "(" + ", ".join(["%s"] * (len(targets) + 1)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608 (names from the model)
                f"FROM (VALUES {', '.join([placeholders] * len(chunk))}) "
                f"AS new(_key, {names}) WHERE {table}.{key} = new._key",
                [value for row in chunk for value in (row[pk], *(row[n] for n in fields))],
            )


def _fields(model, sample: dict) -> list:
    """The concrete columns to write: every one but an automatic primary key."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    unknown = set(sample) - {f.attname for f in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
    return fields


def _complete(row: dict, fields) -> dict:
    return {f.attname: row[f.attname] if f.attname in row else f.get_default() for f in fields}


def _next_ids(model, count: int) -> list[int]:
    """``count`` fresh primary keys from the table's own sequence, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _through_wrappers(cursor, sql: str, executor) -> None:
    """Run ``executor`` as Django runs a statement: inside every installed execute wrapper, and
    in the query log when one is kept (DEBUG, or a test capturing queries)."""
    for wrapper in reversed(connection.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    started = time.monotonic()
    executor(sql, None, False, {"connection": connection, "cursor": cursor})
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def settle(*tables: type[models.Model]) -> None:
    """After a sync that added many rows, leave PostgreSQL as searches and pages need it.

    - ANALYZE: until autovacuum gets round to it, the planner believes a new firm has a handful
      of rows and sorts all of them for the client list instead of walking the list's index
      (56 ms against 0.1 ms at 50,000 clients).
    - The search's trigram (GIN) indexes collect new entries in a pending list (64 MB, set by
      their migration) rather than merging them into the index row by row, which made a
      first sync's inserts grow faster than its size; the list is merged here in one pass,
      so searches do not have to scan it.

    It is tidying, not the sync: it runs after the commit, while the run still has to record
    how it ended inside its lease, so it gets SETTLE_TIMEOUT at the most (an ANALYZE waits
    behind a VACUUM of the same table), and cut short it leaves the rest to autovacuum.
    """
    if connection.vendor != "postgresql":
        return
    names = [model._meta.db_table for model in tables]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            timeout = str(int(SETTLE_TIMEOUT.total_seconds() * 1000))
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [timeout])
            cursor.execute(
                "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
                "WHERE am.amname = 'gin' AND i.indrelid = ANY(%s::regclass[])",
                [names],
            )
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in names))
    except OperationalError:
        logger.warning("Settling %s after a large sync was cut short", ", ".join(names))
