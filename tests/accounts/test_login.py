import time

import pytest
from django.contrib.auth import SESSION_KEY

from accounts.models import AuditEvent
from tests.factories import PASSWORD, make_user

LOGIN_URL = "/accounts/login/"
WRONG = "not-the-password-at-all"


def login(client, email, password, **extra):
    return client.post(LOGIN_URL, {"username": email, "password": password}, **extra)


def test_login_page_renders(client, db):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_alice_logs_in_with_email_and_password(client, alice):
    response = login(client, "alice@alpha.example.com", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(alice.pk)
    assert AuditEvent.objects.filter(firm=alice.firm, action="login", actor=alice).count() == 1


def test_email_is_matched_case_insensitively(client, alice):
    response = login(client, "Alice@Alpha.Example.COM", PASSWORD)
    assert response.status_code == 302


def test_login_rotates_the_session_key(client, alice):
    client.get(LOGIN_URL)
    client.session.save()
    before = client.session.session_key
    login(client, alice.email, PASSWORD)
    assert client.session.session_key != before


def test_wrong_password_and_unknown_user_get_the_same_message(client, alice):
    wrong_password = login(client, alice.email, WRONG)
    unknown_user = login(client, "nobody@alpha.example.com", WRONG)
    assert wrong_password.status_code == unknown_user.status_code == 200
    message = "That email address and password do not match an active account."
    assert message in wrong_password.content.decode()
    assert message in unknown_user.content.decode()
    assert SESSION_KEY not in client.session


def test_inactive_user_cannot_log_in(client, firm_a):
    user = make_user(firm_a, "gone@alpha.example.com", is_active=False)
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_account_is_throttled_after_five_failures_even_with_the_right_password(client, alice):
    for _ in range(5):
        login(client, alice.email, WRONG)
    response = login(client, alice.email, PASSWORD)
    assert "Too many failed login attempts" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_account_throttle_applies_from_every_address(client, alice):
    for n in range(5):
        login(client, alice.email, WRONG, REMOTE_ADDR=f"203.0.113.{n}")
    response = login(client, alice.email, PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert "Too many failed login attempts" in response.content.decode()


def test_address_is_throttled_across_accounts(client, alice, settings):
    settings.LOGIN_THROTTLE_PER_IP = 8
    for n in range(8):
        login(client, f"guess{n}@alpha.example.com", WRONG, REMOTE_ADDR="203.0.113.9")
    blocked = login(client, alice.email, PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert "Too many failed login attempts" in blocked.content.decode()
    elsewhere = login(client, alice.email, PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 302


def _remaining_life(key: str) -> float | None:
    """Seconds until a cache key expires (None: never), on Redis or the local-memory cache."""
    from django.core.cache import cache

    stored_key = cache.make_and_validate_key(key)
    if hasattr(cache, "_expire_info"):  # local-memory cache
        expires_at = cache._expire_info.get(stored_key)
        return None if expires_at is None else expires_at - time.time()
    ttl = cache._cache.get_client(stored_key).ttl(stored_key)
    return None if ttl < 0 else float(ttl)


def test_throttle_is_never_permanent(client, alice, settings):
    from django.core.cache import cache

    from accounts.throttle import _keys

    keys = list(_keys(alice.email, "127.0.0.1"))
    for _ in range(5):
        login(client, alice.email, WRONG)
    lives = [_remaining_life(key) for key in keys]
    # Both counters expire by themselves within the window...
    assert all(life is not None and 0 < life <= settings.LOGIN_THROTTLE_WINDOW for life in lives)
    # ...and refused attempts do not push the end of the lockout further away.
    assert "Too many" in login(client, alice.email, PASSWORD).content.decode()
    assert all(_remaining_life(key) <= life for key, life in zip(keys, lives, strict=True))
    # When the window ends the counters are gone, and the right password works again.
    cache.delete_many(keys)
    assert login(client, alice.email, PASSWORD).status_code == 302


def test_successful_login_resets_the_account_counter(client, alice):
    for _ in range(4):
        login(client, alice.email, WRONG)
    assert login(client, alice.email, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        login(client, alice.email, WRONG)
    assert login(client, alice.email, PASSWORD).status_code == 302


def test_forwarded_address_is_trusted_only_behind_a_configured_proxy(client, alice, settings):
    settings.LOGIN_THROTTLE_PER_IP = 3
    for n in range(3):
        # A client-supplied header must not let an attacker pick a fresh address each time.
        login(client, f"x{n}@alpha.example.com", WRONG, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert "Too many" in login(client, alice.email, PASSWORD).content.decode()


@pytest.mark.parametrize("proxies,expected", [(1, "198.51.100.20"), (2, "203.0.113.5")])
def test_client_ip_reads_as_many_hops_as_there_are_proxies(rf, settings, proxies, expected):
    from accounts.throttle import client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5, 198.51.100.20"
    )
    assert client_ip(request) == expected


def test_logged_in_user_visiting_login_goes_home(alice_client):
    response = alice_client.get(LOGIN_URL)
    assert response.status_code == 302
