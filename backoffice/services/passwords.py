"""Password policy and hashing for staff accounts (policy 4.3; OWASP ASVS 2.1).

At least PASSWORD_MIN_LENGTH (≥ 12) characters, not one of the 30,000 most common passwords (the list shipped by
the `zxcvbn` package), and not built from the user's own e-mail or name.
"""
import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

MAX_PASSWORD_LENGTH = 200
_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown keeps the response time the same.
DUMMY_HASH = _hasher.hash("not-a-real-password")


@functools.cache
def _common():
    """zxcvbn's 30,000 common passwords, loaded when a password is first checked: its six lists cost ~14 MiB in
    every process, and only a process that sets a password needs one."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


class PasswordPolicyError(ValueError):
    """The chosen password breaks the policy; the message is translatable."""


def min_length():
    return current_app.config.get("PASSWORD_MIN_LENGTH", 12) if has_app_context() else 12


def hash_password(password):
    return _hasher.hash(password)


def verify(password_hash, password):
    """True when `password` matches; a malformed or unusable hash never matches."""
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher.check_needs_rehash(password_hash)


def _folded(value):
    return re.sub(r"[\W_]+", "", (value or "").lower())


def check(password, email="", full_name=""):
    """Raise PasswordPolicyError when `password` may not be used by the holder of `email` / `full_name`."""
    password = password or ""
    if len(password) < min_length():
        raise PasswordPolicyError(_l("The password must have at least %(n)d characters.", n=min_length()))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(_l("The password may have at most %(n)d characters.", n=MAX_PASSWORD_LENGTH))
    folded = _folded(password)
    # Common passwords, also with digits or a repeated word around them ("password12", "qwertyqwerty").
    stripped = re.sub(r"\d+$", "", folded)
    repeated = re.fullmatch(r"(.+?)\1+", folded)
    common = _common()
    if (password.lower() in common or folded in common or stripped in common or len(set(folded)) < 4
            or folded.isdigit() or (repeated and (repeated.group(1) in common or len(repeated.group(1)) < 6))):
        raise PasswordPolicyError(_l("This password is too common or too simple. Choose a longer phrase "
                                     "that others would not guess."))
    parts = [_folded((email or "").split("@")[0]), _folded(email)]
    parts += [_folded(word) for word in (full_name or "").split() if len(_folded(word)) >= 3]
    if any(part and len(part) >= 3 and part in folded for part in parts):
        raise PasswordPolicyError(_l("The password must not contain your e-mail address or name."))
