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


def test_update_sets_the_fields_of_each_row_and_leaves_the_rest(firm_a):
    from clients.models import Client

    now = timezone.now()
    keep = Client.objects.create(firm=firm_a, name="Untouched", email="keep@example.com")
    first = Client.objects.create(firm=firm_a, name="Old One", email="one@example.com")
    second = Client.objects.create(firm=firm_a, name="Old Two", city="Perth")
    rows = [
        {"id": first.pk, "name": 'O\'Brien, "Quoted"\\n', "is_prospect": True, "updated_at": now},
        {"id": second.pk, "name": "New Two", "is_prospect": False, "updated_at": now},
    ]
    bulk.update(Client, rows, ["name", "is_prospect", "updated_at"])
    first.refresh_from_db()
    second.refresh_from_db()
    keep.refresh_from_db()
    assert (first.name, first.is_prospect, first.email) == (
        rows[0]["name"],
        True,
        "one@example.com",
    )
    assert (second.name, second.city, second.updated_at) == ("New Two", "Perth", now)
    assert keep.name == "Untouched"
