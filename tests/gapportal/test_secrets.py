"""Tokens, TOTP keys and passwords stay out of admin pages, logs and error pages."""

from tests.totp import make_device
from tests.xpmsync.factories import make_connection


def test_admin_pages_show_no_tokens_keys_or_password_hashes(operator_client, firm_a, alice):
    xpm = make_connection(firm_a, alice)
    device = make_device(alice)
    pages = [
        "/platform-admin/xpmsync/xpmconnection/",
        f"/platform-admin/xpmsync/xpmconnection/{xpm.pk}/change/",
        "/platform-admin/otp_totp/totpdevice/",
        f"/platform-admin/otp_totp/totpdevice/{device.pk}/change/",
        "/platform-admin/accounts/user/",
    ]
    for url in pages:
        response = operator_client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        assert xpm.access_token_encrypted not in content and "access-token-0" not in content
        assert device.key not in content, url
        assert alice.password not in content, url
    assert operator_client.get(
        f"/platform-admin/otp_totp/totpdevice/{device.pk}/qrcode/"
    ).status_code in (403, 404)


def test_an_error_page_shows_no_trace(client, db, settings):
    settings.DEBUG = False
    response = client.get("/clients/999999/")
    assert response.status_code in (302, 404)
    assert b"Traceback" not in response.content
