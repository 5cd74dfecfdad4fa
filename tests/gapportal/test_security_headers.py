def test_pages_carry_a_strict_content_security_policy(client, db):
    csp = client.get("/accounts/login/")["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self' https://login.xero.com",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp


def test_pages_cannot_be_framed_and_do_not_leak_referrers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_passwords_are_hashed_with_argon2(alice):
    assert alice.password.startswith("argon2")


def test_unknown_host_is_refused(client, db):
    assert client.get("/accounts/login/", HTTP_HOST="evil.example.net").status_code == 400
