"""The passkey relying party comes from SITE_URL; production refuses to start when they disagree."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.relying_party import check_relying_party
from tests.gapportal.test_settings import PRODUCTION, run_manage, settings_values


def test_the_site_host_or_a_domain_it_belongs_to_is_a_valid_relying_party():
    check_relying_party("https://portal.example.com", "portal.example.com")
    check_relying_party("https://portal.example.com", "example.com")


@pytest.mark.parametrize(
    "site_url,rp_id,message",
    [
        ("https://portal.example.com", "other.example.com", "must be SITE_URL's host"),
        ("https://portal.example.com", "ample.com", "must be SITE_URL's host"),
        ("http://portal.example.com", "portal.example.com", "must be an https://"),
        ("https://10.0.0.5", "10.0.0.5", "not '10.0.0.5'"),
    ],
)
def test_a_relying_party_that_cannot_work_is_refused(site_url, rp_id, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        check_relying_party(site_url, rp_id)


def test_the_embedded_default_is_localhost_where_browsers_allow_passkeys():
    values = settings_values(
        "s.SITE_URL, s.OTP_WEBAUTHN_RP_ID, s.OTP_WEBAUTHN_ALLOWED_ORIGINS[0], "
        "s.OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN",
        env={"DEBUG": "True"},
    )
    assert values == [
        "http://localhost:8000",
        "localhost",
        "http://localhost:8000",
        "False",
    ]


def test_production_takes_the_relying_party_from_site_url():
    values = settings_values("s.OTP_WEBAUTHN_RP_ID, s.OTP_WEBAUTHN_ALLOWED_ORIGINS", env=PRODUCTION)
    assert values == ["portal.example.com", "['https://portal.example.com']"]


def test_production_refuses_to_start_when_the_relying_party_and_site_url_disagree():
    result = run_manage("check", env={**PRODUCTION, "WEBAUTHN_RP_ID": "elsewhere.example.com"})
    assert result.returncode != 0
    assert "WEBAUTHN_RP_ID ('elsewhere.example.com') must be SITE_URL's host" in result.stderr
