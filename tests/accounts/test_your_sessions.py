"""User Settings > Your sessions, and an admin ending all of a user's sessions."""

import time

import pytest
from django.test import Client as HttpClient

from accounts import sessions
from accounts.models import AuditEvent, UserSession
from tests.factories import PASSWORD
from tests.totp import sign_in

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = CHROME_MAC.replace("Macintosh; Intel Mac OS X 10_15_7", "Windows NT 10.0") + (
    " Edg/126.0.2592.87"
)


def _signed_in(user, user_agent: str, address: str) -> HttpClient:
    """``user`` logged in with their password from a browser at an address."""
    http = HttpClient(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    response = http.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return http


def _is_signed_in(http: HttpClient) -> bool:
    return http.get("/clients/").status_code == 200


@pytest.fixture
def bobs_browsers(bob):
    return (
        _signed_in(bob, FIREFOX_WINDOWS, "203.0.113.7"),
        _signed_in(bob, SAFARI_IPHONE, "198.51.100.20"),
        _signed_in(bob, CHROME_MAC, "192.0.2.33"),
    )


def _record_of(http: HttpClient) -> UserSession:
    return UserSession.objects.get(pk=http.session[sessions.RECORD_ID])


def test_your_sessions_lists_every_signed_in_session_with_browser_and_address(bobs_browsers):
    firefox, _safari, _chrome = bobs_browsers
    response = firefox.get("/accounts/settings/sessions/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Firefox on Windows",
        "203.0.113.7",
        "Safari on iPhone",
        "198.51.100.20",
        "Chrome on macOS",
        "192.0.2.33",
        "This session",
        "End all other sessions",
    ):
        assert text in page
    assert page.count("End session<") == 2
    assert [row["is_current"] for row in response.context["rows"]] == [True, False, False]


def test_your_sessions_is_linked_from_user_settings(bob_client):
    page = bob_client.get("/accounts/settings/").content.decode()
    assert 'href="/accounts/settings/sessions/"' in page


def test_ending_one_session_logs_out_exactly_that_one(bobs_browsers):
    firefox, safari, chrome = bobs_browsers
    safari_key = safari.session.session_key
    response = firefox.post(f"/accounts/settings/sessions/{_record_of(safari).pk}/end/")
    assert response.status_code == 302
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=safari_key).exists()
    response = safari.get("/clients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert _is_signed_in(firefox)
    assert _is_signed_in(chrome)
    assert UserSession.objects.count() == 2


def test_ending_all_other_sessions_keeps_this_one(bobs_browsers, bob):
    firefox, safari, chrome = bobs_browsers
    untracked = HttpClient()
    untracked.force_login(bob)
    UserSession.objects.filter(session_key=untracked.session.session_key).delete()
    assert firefox.post("/accounts/settings/sessions/end-others/").status_code == 302
    assert not _is_signed_in(safari)
    assert not _is_signed_in(chrome)
    # A session begun before sessions were recorded ends too, through the session generation.
    assert not _is_signed_in(untracked)
    assert _is_signed_in(firefox)
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        firefox.session.session_key
    ]


def test_the_current_session_is_ended_by_logging_out_not_from_the_list(bob_client):
    record = _record_of(bob_client)
    response = bob_client.post(f"/accounts/settings/sessions/{record.pk}/end/")
    assert response.status_code == 302
    assert _is_signed_in(bob_client)


def test_another_users_session_gives_404_and_nothing_changes(
    bobs_browsers, alice_client, carol_client
):
    firefox, _safari, _chrome = bobs_browsers
    record = _record_of(firefox)
    for other in (alice_client, carol_client):
        assert other.post(f"/accounts/settings/sessions/{record.pk}/end/").status_code == 404
    assert _is_signed_in(firefox)
    assert UserSession.objects.filter(pk=record.pk).exists()


def test_logging_out_removes_the_session_from_the_list(bobs_browsers):
    firefox, safari, _chrome = bobs_browsers
    record = _record_of(safari)
    safari.post("/accounts/logout/")
    assert not UserSession.objects.filter(pk=record.pk).exists()
    rows = firefox.get("/accounts/settings/sessions/").context["rows"]
    assert len(rows) == 2


def test_sessions_ended_by_a_password_change_leave_the_list(bobs_browsers, bob):
    firefox, _safari, _chrome = bobs_browsers
    new_password = "a-new-and-long-passphrase-2026"
    response = firefox.post(
        "/accounts/settings/password/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    rows = firefox.get("/accounts/settings/sessions/").context["rows"]
    assert [row["is_current"] for row in rows] == [True]
    assert UserSession.objects.count() == 1


def test_the_session_row_follows_the_new_key_after_the_code_step(alice):
    http = sign_in(HttpClient(HTTP_USER_AGENT=FIREFOX_WINDOWS), alice)
    assert _is_signed_in(http)
    assert _record_of(http).session_key == http.session.session_key
    assert UserSession.objects.count() == 1


def test_last_seen_is_written_at_most_once_a_minute(bob_client):
    bob_client.get("/clients/")
    record = _record_of(bob_client)
    long_ago = record.last_seen_at.replace(year=2020)
    UserSession.objects.filter(pk=record.pk).update(last_seen_at=long_ago)
    bob_client.get("/clients/")
    record.refresh_from_db()
    assert record.last_seen_at == long_ago
    session = bob_client.session
    session[sessions.RECORD_SEEN_AT] = int(time.time()) - sessions.SEEN_RESOLUTION
    session.save()
    bob_client.get("/clients/")
    record.refresh_from_db()
    assert record.last_seen_at.year > 2020


def test_admin_ends_all_of_bobs_sessions(bobs_browsers, alice_client, bob):
    response = alice_client.post(f"/accounts/users/{bob.pk}/end-sessions/")
    assert response.status_code == 302
    assert not any(_is_signed_in(browser) for browser in bobs_browsers)
    assert not UserSession.objects.filter(user=bob).exists()
    assert _is_signed_in(alice_client)
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_CHANGED)
    assert event.detail == f"{bob.email}: sessions ended"


def test_user_edit_page_offers_to_end_all_sessions(alice_client, bob):
    page = alice_client.get(f"/accounts/users/{bob.pk}/").content.decode()
    assert f'action="/accounts/users/{bob.pk}/end-sessions/"' in page


def test_carol_cannot_end_bobs_sessions(bobs_browsers, carol_client, bob):
    assert carol_client.post(f"/accounts/users/{bob.pk}/end-sessions/").status_code == 404
    assert all(_is_signed_in(browser) for browser in bobs_browsers)
    assert UserSession.objects.filter(user=bob).count() == 3


def test_bob_cannot_end_alices_sessions(bob_client, alice_client, alice):
    assert bob_client.post(f"/accounts/users/{alice.pk}/end-sessions/").status_code == 403
    assert _is_signed_in(alice_client)


def test_an_admin_ends_their_own_sessions_in_user_settings(alice_client, alice):
    response = alice_client.post(f"/accounts/users/{alice.pk}/end-sessions/")
    assert response.status_code == 302
    assert _is_signed_in(alice_client)


@pytest.mark.parametrize(
    "user_agent,label",
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        (CHROME_MAC, "Chrome on macOS"),
        (EDGE_WINDOWS, "Edge on Windows"),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox on Linux",
        ),
        ("curl/8.5.0", "curl"),
        ("", "Unknown browser"),
    ],
)
def test_browser_labels_are_short_and_readable(user_agent, label):
    assert sessions.browser_label(user_agent) == label
