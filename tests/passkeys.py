"""Passkeys for tests that need a user to have one without a browser's authenticator.

The rows are what django-otp-webauthn stores after a registration; their keys are made up, so
they can never pass a real WebAuthn check (the browser tests register real ones).
"""

import secrets

from django_otp_webauthn.models import WebAuthnCredential


def make_passkey(user, name: str = "Work laptop", **fields) -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=secrets.token_bytes(32),
        public_key=secrets.token_bytes(77),
        aaguid="00000000-0000-0000-0000-000000000000",
        **fields,
    )
