"""Configure MFA offers the otpauth:// address as a link, for a phone that cannot scan itself."""

from html import unescape
from urllib.parse import parse_qs, urlparse

from django_otp.plugins.otp_totp.models import TOTPDevice


def test_configure_mfa_links_the_same_key_the_qr_code_holds(bob_client, bob):
    content = bob_client.get("/accounts/settings/mfa/").content.decode()
    start = content.index('id="otpauth-link"')
    href = unescape(content[content.rindex('href="', 0, start) + 6 : start].split('"')[0])
    device = TOTPDevice.objects.get(user=bob, confirmed=False)
    assert href == device.config_url
    url = urlparse(href)
    assert (url.scheme, url.netloc) == ("otpauth", "totp")
    assert parse_qs(url.query)["issuer"] == ["The Gap Portal"]
    assert "Open in authenticator app" in content


def test_the_page_with_the_link_is_never_stored(bob_client):
    response = bob_client.get("/accounts/settings/mfa/")
    assert "no-store" in response["Cache-Control"]
