"""The firm's time zone: set by its admins on Manage Users, used on every page its people see."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent, Firm

UTC = ZoneInfo("UTC")


def test_a_new_firm_shows_times_in_sydney():
    assert Firm().time_zone == "Australia/Sydney"


def test_alice_sets_her_firms_time_zone(alice_client, firm_a):
    response = alice_client.post("/accounts/users/time-zone/", {"time_zone": "Australia/Perth"})
    assert response.status_code == 302
    firm_a.refresh_from_db()
    assert firm_a.time_zone == "Australia/Perth"


def test_an_unknown_time_zone_is_refused(alice_client, firm_a):
    response = alice_client.post(
        "/accounts/users/time-zone/", {"time_zone": "Mars/Olympus"}, follow=True
    )
    assert "Choose a time zone from the list." in response.content.decode()
    firm_a.refresh_from_db()
    assert firm_a.time_zone == "Australia/Sydney"


def test_bob_cannot_change_the_time_zone(bob_client, firm_a):
    response = bob_client.post("/accounts/users/time-zone/", {"time_zone": "Australia/Perth"})
    assert response.status_code == 403
    firm_a.refresh_from_db()
    assert firm_a.time_zone == "Australia/Sydney"


def test_the_time_zone_change_is_post_only(alice_client):
    assert alice_client.get("/accounts/users/time-zone/").status_code == 405


def test_pages_show_times_in_the_firms_zone(alice_client, alice, firm_a):
    event = audit.record(firm_a, AuditEvent.Action.LOGIN, actor=alice)
    AuditEvent.objects.filter(pk=event.pk).update(
        created_at=datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    )
    assert "5 Jan 2026, 11:30" in alice_client.get("/accounts/audit-log/").content.decode()
    firm_a.time_zone = "Australia/Perth"
    firm_a.save(update_fields=["time_zone"])
    assert "5 Jan 2026, 08:30" in alice_client.get("/accounts/audit-log/").content.decode()


def test_each_firm_sees_its_own_zone(carol_client, carol, firm_b):
    firm_b.time_zone = "Pacific/Auckland"
    firm_b.save(update_fields=["time_zone"])
    event = audit.record(firm_b, AuditEvent.Action.LOGIN, actor=carol)
    AuditEvent.objects.filter(pk=event.pk).update(
        created_at=datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    )
    assert "5 Jan 2026, 13:30" in carol_client.get("/accounts/audit-log/").content.decode()


def test_the_zone_does_not_leak_into_the_next_request(alice_client, firm_a):
    firm_a.time_zone = "America/New_York"
    firm_a.save(update_fields=["time_zone"])
    alice_client.get("/accounts/users/")
    assert timezone.get_current_timezone_name() != "America/New_York"


def test_a_bad_stored_zone_falls_back_to_sydney():
    firm = Firm(time_zone="Not/AZone")
    assert firm.zoneinfo == ZoneInfo("Australia/Sydney")


def test_the_next_daily_sync_says_its_zone(alice, firm_a):
    from django.test import Client as HttpClient

    from tests.totp import sign_in
    from tests.xpmsync.factories import make_connection

    make_connection(firm_a, alice)
    content = sign_in(HttpClient(), alice).get("/xpm/").content.decode()
    assert "(Australia/Sydney time" in content
    assert content.count("Xero Sync</h") == 1
