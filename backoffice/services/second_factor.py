"""TOTP second factor (RFC 6238) with one-time recovery codes (policy 4.3; ASVS 2.8).

Mandatory for the roles in TOTP_REQUIRED_ROLES (manager, supervisor, admin), optional for the others. A code is
accepted within ±1 step of 30 s and never twice (the last accepted step is kept). Recovery codes are shown once
and kept as keyed hashes (HMAC-SHA-256 with the server's hash key: the codes carry 48 random bits, so a slow
password hash adds nothing but seconds at enrolment).
"""
import datetime as dt
import hmac
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models.base import utcnow
from ..models.security import RecoveryCode
from .pseudonyms import keyed_hash

ISSUER = "Bek Air back-office"
RECOVERY_CODES = 10
STEP = 30


def required_for(user):
    return bool(user.role_set & set(current_app.config["TOTP_REQUIRED_ROLES"]))


def enrolled(user):
    return bool(user.totp_secret)


def new_secret():
    return pyotp.random_base32()


def provisioning_svg(email, secret):
    """The enrolment QR code as inline SVG markup (no image file, no external service)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4)


def current_step():
    """The RFC 6238 time step now (30 s each, counted from the Unix epoch)."""
    return int(utcnow().replace(tzinfo=dt.timezone.utc).timestamp() // STEP)


def _matching_step(secret, code, last_step):
    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = current_step()
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def check_code(secret, code, last_step=None):
    """The time step `code` is valid for with `secret` now (enrolment confirmation), or None."""
    return _matching_step(secret, code, last_step)


def verify(user, code):
    """Accept a TOTP code or an unused recovery code for `user`; marks it used (caller commits)."""
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return True
    return use_recovery_code(user, code)


def enrol(user, secret, used_step=None):
    """Store a confirmed secret and return fresh recovery codes (plain, to show once).

    `used_step` is the step of the code that confirmed it, which may then not be used again.
    """
    user.totp_secret = secret
    user.totp_last_step = used_step
    return new_recovery_codes(user)


def remove(user):
    user.totp_secret = None
    user.totp_last_step = None
    for row in _codes(user):
        db.session.delete(row)


def _codes(user):
    return db.session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).scalars().all()


def new_recovery_codes(user):
    for row in _codes(user):
        db.session.delete(row)
    codes = ["-".join(secrets.token_hex(3) for _ in range(2)) for _ in range(RECOVERY_CODES)]
    for code in codes:
        db.session.add(RecoveryCode(user_id=user.id, code_hash=keyed_hash("recovery:" + code)))
    return codes


def use_recovery_code(user, code):
    code = (code or "").strip().lower()
    if len(code) != 13:
        return False
    wanted = keyed_hash("recovery:" + code)
    for row in _codes(user):
        if row.used_at is None and hmac.compare_digest(row.code_hash, wanted):
            row.used_at = utcnow()
            return True
    return False


def unused_recovery_codes(user):
    return sum(1 for row in _codes(user) if row.used_at is None)
