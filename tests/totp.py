"""Real TOTP codes for tests, computed from a device's key as an authenticator app would."""

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa


def code_for(device: TOTPDevice, steps: int = 0) -> str:
    """The code ``device`` shows now, or ``steps`` time steps away."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():06d}"


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    """Enrol ``user`` through the real service; returns the device and the backup codes.

    The enrolment spends the current time step, so the next login code is ``code_for(device, 1)``.
    """
    device = mfa.pending_device(user)
    codes = mfa.confirm_enrolment(user, code_for(device))
    device.refresh_from_db()
    return device, codes


def make_device(user, **fields) -> TOTPDevice:
    """A confirmed device that has never accepted a code (no backup codes)."""
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True, **fields)


def sign_in(http, user, device: TOTPDevice | None = None, steps: int = 0):
    """Log ``user`` in on ``http`` as a person would: password, then a code from the device
    (a new one unless given). Returns ``http``."""
    from tests.factories import PASSWORD

    device = device or make_device(user)
    http.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    http.post("/accounts/login/code/", {"code": code_for(device, steps)})
    return http
