import time

from django.contrib.auth import SESSION_KEY


def test_logout_is_post_only(alice_client):
    assert alice_client.get("/accounts/logout/").status_code == 405
    assert SESSION_KEY in alice_client.session


def test_logout_ends_the_session(alice_client):
    old_key = alice_client.session.session_key
    response = alice_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert SESSION_KEY not in alice_client.session
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=old_key).exists()
    assert alice_client.get("/clients/").status_code == 302


def _age_session(client, *, idle: int = 0, started: int = 0) -> None:
    session = client.session
    now = int(time.time())
    session["last_seen_at"] = now - idle
    session["started_at"] = now - started
    session.save()


def test_idle_session_expires_after_thirty_minutes(alice_client):
    alice_client.get("/clients/")
    _age_session(alice_client, idle=31 * 60)
    response = alice_client.get("/clients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert SESSION_KEY not in alice_client.session


def test_active_session_survives_under_the_idle_limit(alice_client):
    alice_client.get("/clients/")
    _age_session(alice_client, idle=29 * 60)
    assert alice_client.get("/clients/").status_code == 200


def test_session_ends_after_twelve_hours_however_active(alice_client):
    alice_client.get("/clients/")
    _age_session(alice_client, idle=10, started=12 * 3600 + 60)
    response = alice_client.get("/clients/")
    assert response.status_code == 302
    assert SESSION_KEY not in alice_client.session


def test_deactivated_users_session_stops_working_at_once(alice_client, bob_client, bob):
    assert bob_client.get("/clients/").status_code == 200
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert bob_client.get("/clients/").status_code == 302
