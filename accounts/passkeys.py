"""Passkeys and security keys (WebAuthn) as a second factor, through django-otp-webauthn.

The library does the WebAuthn ceremonies and keeps each passkey as one more django-otp device
(``WebAuthnCredential``), so ``user.is_verified()``, the MFA middleware and the audit log treat
it like the authenticator app. What the portal adds lives here: names, the first factor's
backup codes, removal, audit events and emails. The views that wrap the library's ceremonies
are in ``accounts/views/passkeys.py``.
"""

from django.db import transaction
from django.db.models import QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from gapportal.mail import send_templated_email

from . import audit, mfa
from .models import AuditEvent, User
from .sessions import browser_label

# More than anyone needs (a laptop, a phone, two security keys...), and a bound on the list.
MAX_PASSKEYS = 10
NAME_MAX_LENGTH = 64


class PasskeyRefused(Exception):
    """A change to a passkey that the rules do not allow; the message says why."""


def passkeys_of(user: User) -> QuerySet[WebAuthnCredential]:
    """The user's registered passkeys, oldest first."""
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")


def has_passkey(user: User) -> bool:
    return passkeys_of(user).exists()


def default_name(user_agent: str, transports: list[str]) -> str:
    """What a new passkey is called until its owner names it: where it was made, or its kind."""
    if any(transport in ("usb", "nfc", "ble") for transport in transports):
        return "Security key"
    return f"Passkey on {browser_label(user_agent)}"[:NAME_MAX_LENGTH]


def add(user: User, device: WebAuthnCredential, *, is_first_factor: bool, user_agent: str) -> None:
    """Record a passkey the library has just registered and saved for ``user``.

    As the user's first factor it is their MFA enrolment: every other session ends (the caller
    keeps its own) and the enrolment is audited and emailed like the authenticator app's. The
    backup codes are issued when the caller shows them (``mfa.issue_backup_codes``).
    """
    device.name = default_name(user_agent, device.transports)
    device.save(update_fields=["name"])
    with transaction.atomic():
        if is_first_factor:
            mfa.end_all_sessions_after_enrolment(user)
            action, email = AuditEvent.Action.MFA_ENROLLED, "mfa_enabled"
        else:
            action, email = AuditEvent.Action.PASSKEY_ADDED, "mfa_passkey_added"
        if user.firm_id:
            audit.record(user.firm, action, actor=user, detail=f"Passkey: {device.name}")
    send_templated_email(email, [user.email], {"user": user, "passkey": device})


def rename(device: WebAuthnCredential, name: str) -> None:
    device.name = name.strip()[:NAME_MAX_LENGTH] or device.name
    device.save(update_fields=["name"])


def remove(user: User, device: WebAuthnCredential) -> None:
    """Remove one of the user's passkeys; their last second factor stays while MFA is required.

    The caller has checked that it is the user's own passkey and that they confirmed it's them.
    """
    with transaction.atomic():
        others = mfa.factor_count(user) - 1
        if others == 0:
            if user.mfa_required:
                raise PasskeyRefused(
                    f"{user.mfa_required_reason} Add another passkey or an authenticator app "
                    "before removing this one."
                )
            raise PasskeyRefused(
                "This is your only second factor. Add another one first, or turn MFA off below."
            )
        name = device.name
        device.delete()
        if user.firm_id:
            audit.record(
                user.firm, AuditEvent.Action.PASSKEY_REMOVED, actor=user, detail=f"Passkey: {name}"
            )
    send_templated_email("mfa_passkey_removed", [user.email], {"user": user, "name": name})
