"""Multi-factor authentication: TOTP enrolment and codes, backup codes, disable and reset.

A user's second factors are their authenticator app (one TOTP device) and their passkeys
(django-otp-webauthn devices, see ``passkeys.py``); any one of them means the user has MFA.

Every code check runs inside a transaction holding a row lock on the user's TOTP device, so one
code is accepted once even under parallel requests, and parallel wrong guesses cannot slip past
django-otp's throttling (its failure count lives on the device, not in the session). Backup codes
are checked under the same lock and count towards the same throttle.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from gapportal.mail import send_templated_email

from . import audit, monitoring, throttle
from .models import AuditEvent, BackupCode, Firm, User

BACKUP_CODE_COUNT = 10
# 24 base32 characters: 120 random bits, enough to store as a plain SHA-256 (ASVS 6.5).
_BACKUP_CODE_CHARS = 24


class CodeRefused(Exception):
    """A code that was not accepted; the message is safe to show the user."""


@dataclass(frozen=True)
class Verification:
    device: TOTPDevice | WebAuthnCredential
    used_backup_code: bool


def has_mfa(user: User) -> bool:
    """Whether the user has a second factor: an authenticator app or a passkey."""
    return has_authenticator_app(user) or _passkeys(user).exists()


def has_authenticator_app(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _passkeys(user: User):
    return WebAuthnCredential.objects.filter(user=user, confirmed=True)


def factor_count(user: User) -> int:
    """How many second factors the user has: the authenticator app and each passkey."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).count() + _passkeys(user).count()


def users_without_mfa(firm: Firm) -> QuerySet[User]:
    """Active users of ``firm`` with neither an authenticator app nor a passkey."""
    return User.objects.for_firm(firm).filter(is_active=True).exclude(has_mfa_condition())


def has_mfa_condition() -> Q:
    """A filter on users: those with a second factor (``exclude()`` it for those without)."""
    return Q(Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))) | Q(
        Exists(WebAuthnCredential.objects.filter(user=OuterRef("pk"), confirmed=True))
    )


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


# --- Enrolment ----------------------------------------------------------------------------------


def pending_device(user: User) -> TOTPDevice:
    """The unconfirmed device the user is enrolling, created with a fresh key if needed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def secret_for_display(device: TOTPDevice) -> str:
    """The device's key in base32, in groups of four for typing into an authenticator app."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL of ``device`` as an inline SVG, drawn on the server."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def confirm_enrolment(user: User, code: str, *, ip: str = "") -> list[str]:
    """Confirm the user's pending device with a code from it; returns new backup codes.

    Any earlier device is replaced, backup codes are issued afresh, every session of the user is
    ended (the caller keeps its own), and the user is emailed.
    """
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-id")
            .first()
        )
        if device is None:
            raise CodeRefused("The setup expired. Scan the new QR code and try again.")
        if not device.verify_is_allowed()[0]:
            raise CodeRefused(_refusal(device))
        # verify_token records the matched time step in last_t, so the enrolment code cannot
        # be replayed at the next login.
        accepted = device.verify_token(_digits(code))
        if accepted:
            # An earlier authenticator app is replaced; passkeys stay.
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _replace_backup_codes(user)
            _end_all_sessions(user, must_enrol=False)
            if user.firm_id:
                audit.record(user.firm, AuditEvent.Action.MFA_ENROLLED, actor=user)
    if not accepted:
        # Outside the transaction, so the failure count verify_token recorded is kept.
        _alert_if_repeated(user, device, ip)
        raise CodeRefused(WRONG_CODE)
    send_templated_email("mfa_enabled", [user.email], {"user": user})
    return codes


# --- Verification -------------------------------------------------------------------------------


def verify(user: User, code: str, *, ip: str = "") -> Verification:
    """Check a 6-digit code or a backup code for ``user``; raises CodeRefused when wrong.

    ``ip``, the client's address, goes into the alert raised when wrong codes keep coming.
    A user with passkeys but no authenticator app can use a backup code; the device returned
    is then the passkey to mark the session verified with.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return _verify_backup_code_only(user, code, ip=ip)
        if not device.verify_is_allowed()[0]:
            raise CodeRefused(_refusal(device))
        normalised = _normalise_backup_code(code)
        if len(normalised) == _BACKUP_CODE_CHARS:
            if _use_backup_code(user, normalised):
                device.throttle_reset()
                return Verification(device, used_backup_code=True)
            device.throttle_increment()
        elif device.verify_token(_digits(code)):
            return Verification(device, used_backup_code=False)
    # Raised outside the transaction, so the failure count it recorded is kept.
    _alert_if_repeated(user, device, ip)
    raise CodeRefused(WRONG_CODE)


def _verify_backup_code_only(user: User, code: str, *, ip: str) -> Verification:
    # No TOTP device to hold the failure count: the password throttle's counters do, under a
    # key of their own (counted before the check, so parallel guesses are counted too).
    passkey = _passkeys(user).first()
    if passkey is None:
        raise CodeRefused("Multi-factor authentication is not set up for this account.")
    try:
        attempt = throttle.count_attempt(f"backup-code:{user.pk}", ip)
    except throttle.Throttled:
        raise CodeRefused(BACKUP_CODE_THROTTLED) from None
    normalised = _normalise_backup_code(code)
    if len(normalised) == _BACKUP_CODE_CHARS and _use_backup_code(user, normalised):
        attempt.succeeded()
        return Verification(passkey, used_backup_code=True)
    if attempt.locks_account:
        monitoring.repeated_failures(user, what="codes", account=user.email, ip=ip)
    raise CodeRefused(WRONG_BACKUP_CODE)


WRONG_BACKUP_CODE = "That backup code is not right, or it was used already."
BACKUP_CODE_THROTTLED = "Too many wrong codes. Wait 15 minutes and try again."


def _alert_if_repeated(user: User, device: TOTPDevice, ip: str) -> None:
    # Every LOGIN_THROTTLE_PER_ACCOUNT-th wrong code in a row: one alert per run of failures,
    # not one per guess (the device's own delay already slows each guess down).
    failures = device.throttling_failure_count
    if failures and failures % settings.LOGIN_THROTTLE_PER_ACCOUNT == 0:
        monitoring.repeated_failures(user, what="codes", account=user.email, ip=ip)


def _digits(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace())


WRONG_CODE = "That code is not right. Check your authenticator app and try again."


def _refusal(device: TOTPDevice) -> str:
    allowed, info = device.verify_is_allowed()
    if not allowed and info and info.get("locked_until"):
        wait = max(1, int((info["locked_until"] - timezone.now()).total_seconds()) + 1)
        return f"Too many wrong codes. Wait {wait} second{'s' if wait != 1 else ''} and try again."
    return WRONG_CODE


# --- Backup codes -------------------------------------------------------------------------------


def _hash_backup_code(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def _normalise_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_backup_code() -> str:
    # Upper-case base32 has no 0, 1 or 8, so nothing is confused with O, I or B.
    raw = base64.b32encode(secrets.token_bytes(15)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, _BACKUP_CODE_CHARS, 4))


def _replace_backup_codes(user: User) -> list[str]:
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    BackupCode.objects.filter(user=user).delete()
    BackupCode.objects.bulk_create(
        BackupCode(user=user, code_hash=_hash_backup_code(_normalise_backup_code(code)))
        for code in codes
    )
    return codes


def _use_backup_code(user: User, normalised: str) -> bool:
    # The conditional update claims the code: of two parallel uses, one updates a row.
    claimed = (
        BackupCode.objects.unused()
        .filter(user=user, code_hash=_hash_backup_code(normalised))
        .update(used_at=timezone.now())
    )
    return claimed == 1


def regenerate_backup_codes(user: User) -> list[str]:
    """Issue ten new backup codes, invalidating the old ones, and tell the user by email."""
    with transaction.atomic():
        codes = _replace_backup_codes(user)
        if user.firm_id:
            audit.record(user.firm, AuditEvent.Action.BACKUP_CODES_ISSUED, actor=user)
    send_templated_email("backup_codes_issued", [user.email], {"user": user})
    return codes


def issue_backup_codes(user: User) -> list[str]:
    """Backup codes for a user whose first factor is a passkey, shown to them once."""
    with transaction.atomic():
        return _replace_backup_codes(user)


def end_all_sessions_after_enrolment(user: User) -> None:
    """Every session of the user ends (the caller keeps its own); any reset is satisfied."""
    _end_all_sessions(user, must_enrol=False)


def unused_backup_code_count(user: User) -> int:
    return BackupCode.objects.unused().filter(user=user).count()


# --- Disable and reset --------------------------------------------------------------------------


def disable(user: User) -> None:
    """Remove the user's own MFA; the caller has checked the policy, password and code."""
    with transaction.atomic():
        _remove_mfa(user)
        if user.firm_id:
            audit.record(user.firm, AuditEvent.Action.MFA_DISABLED, actor=user)
    send_templated_email("mfa_disabled", [user.email], {"user": user})


def reset(user: User, *, by: User) -> None:
    """An admin's reset: the authenticator app, passkeys and backup codes removed, sessions
    ended, enrolment required."""
    with transaction.atomic():
        _remove_mfa(user)
        _end_all_sessions(user, must_enrol=True)
        audit.record(user.firm, AuditEvent.Action.MFA_RESET, actor=by, detail=user.email)
    send_templated_email("mfa_reset", [user.email], {"user": user, "reset_by": by})


def _remove_mfa(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    WebAuthnCredential.objects.filter(user=user).delete()
    BackupCode.objects.filter(user=user).delete()


def _end_all_sessions(user: User, *, must_enrol: bool) -> None:
    # Incremented in the database: two of these at once (an admin's reset while the user
    # enrols) must move the generation on twice, not write the same stale value back.
    User.objects.filter(pk=user.pk).update(
        session_generation=F("session_generation") + 1, must_enrol_mfa=must_enrol
    )
    user.refresh_from_db(fields=["session_generation", "must_enrol_mfa"])
