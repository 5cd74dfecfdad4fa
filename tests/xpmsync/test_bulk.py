"""bulk.insert: rows in, ids out in order, and every statement visible to query counters."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Contact
from xpmsync import bulk


def test_insert_returns_the_new_ids_in_order_and_is_counted(firm_a):
    now = timezone.now()
    rows = [
        {
            "firm_id": firm_a.pk,
            "name": f"Person {n}\tTab\nLine",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(3)
    ]
    wrapped = []

    def counter(execute, sql, params, many, context):
        wrapped.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(counter):
        ids = bulk.insert(Contact, rows)
    assert [Contact.objects.get(pk=pk).name for pk in ids] == [row["name"] for row in rows]
    # Fields left out take their defaults.
    assert Contact.objects.get(pk=ids[0]).email == ""
    assert len(captured.captured_queries) == len(wrapped) >= 1


def test_insert_without_ids_still_inserts(firm_a):
    now = timezone.now()
    row = {"firm_id": firm_a.pk, "name": "No Id Needed", "created_at": now, "updated_at": now}
    bulk.insert(Contact, [row], ids=False)
    assert Contact.objects.filter(name="No Id Needed").exists()
