"""Password rules from SECURITY.md: 12 characters at least, common and look-alike passwords
refused, Argon2 first."""

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError


@pytest.mark.parametrize(
    "password,code",
    [
        ("Short1pass!", "password_too_short"),  # 11 characters
        ("password1234", "password_too_common"),
        ("alice.anderson", "password_too_similar"),
        ("839201746153", "password_entirely_numeric"),
    ],
)
def test_weak_passwords_are_refused(alice, password, code):
    alice.email = "alice.anderson@alpha.example.com"
    with pytest.raises(ValidationError) as refused:
        validate_password(password, alice)
    assert code in {error.code for error in refused.value.error_list}


def test_a_long_uncommon_password_is_accepted(alice):
    validate_password("copper kettle harbour lights", alice)


def test_passwords_are_hashed_with_argon2_first(alice):
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    alice.set_password("copper kettle harbour lights")
    assert alice.password.startswith("argon2")
