"""Kazakhstan identifiers and contact details: validation and the normalised forms used for lookups.

Normalised forms are what the indexed lookup columns hold, so that finding a client by e-mail,
phone or IIN is an index lookup, whatever way staff typed it.
"""
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_WEIGHTS_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
DEFAULT_REGION = "KZ"


class InvalidIdentifier(ValueError):
    """A value that is not a valid identifier; the message is a lazy-translatable string."""


def _control_digit(digits):
    total = sum(int(d) * w for d, w in zip(digits[:11], _WEIGHTS_FIRST)) % 11
    if total == 10:
        total = sum(int(d) * w for d, w in zip(digits[:11], _WEIGHTS_SECOND)) % 11
    return None if total == 10 else total


def checksum_ok(value):
    """True if a 12-digit IIN/BIN carries a valid control digit (same algorithm for both)."""
    if not value or not re.fullmatch(r"\d{12}", value):
        return False
    control = _control_digit(value)
    return control is not None and control == int(value[11])


def with_control_digit(first_eleven):
    """Append the control digit to 11 digits, or return None if no digit is valid for them."""
    control = _control_digit(first_eleven)
    return None if control is None else first_eleven + str(control)


def clean_digits(value):
    return re.sub(r"[\s\-]", "", value or "")


def normalise_iin(value):
    """Return the IIN as 12 digits, or raise InvalidIdentifier."""
    from flask_babel import lazy_gettext as _l

    digits = clean_digits(value)
    if not re.fullmatch(r"\d{12}", digits):
        raise InvalidIdentifier(_l("An IIN has exactly 12 digits."))
    if not checksum_ok(digits):
        raise InvalidIdentifier(_l("This IIN's control digit is wrong."))
    return digits


def normalise_bin(value):
    """Return the BIN as 12 digits, or raise InvalidIdentifier."""
    from flask_babel import lazy_gettext as _l

    digits = clean_digits(value)
    if not re.fullmatch(r"\d{12}", digits):
        raise InvalidIdentifier(_l("A BIN has exactly 12 digits."))
    if not checksum_ok(digits):
        raise InvalidIdentifier(_l("This BIN's control digit is wrong."))
    return digits


def normalise_phone(value, region=DEFAULT_REGION):
    """Return the phone number in E.164 (+77011234567), or raise InvalidIdentifier.

    Accepts what staff and clients type: '8 701 123 45 67', '+7 (701) 123-45-67', '87011234567'.
    """
    from flask_babel import lazy_gettext as _l

    raw = (value or "").strip()
    if not raw or len(raw) > 40:
        raise InvalidIdentifier(_l("Enter a phone number, e.g. +7 701 123 45 67."))
    # The Kazakh trunk prefix 8 is not known to phonenumbers for +7 numbers typed without it.
    digits = re.sub(r"\D", "", raw)
    if not raw.startswith("+") and len(digits) == 11 and digits[0] == "8":
        raw = "+7" + digits[1:]
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(_l("This is not a phone number.")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidIdentifier(_l("This phone number does not exist."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value):
    """Return the e-mail address lower-cased and syntax-checked (no DNS lookup), or raise."""
    from flask_babel import lazy_gettext as _l

    raw = (value or "").strip()
    if not raw or len(raw) > 254:
        raise InvalidIdentifier(_l("Enter a valid e-mail address."))
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidIdentifier(_l("Enter a valid e-mail address.")) from None
    return result.normalized.lower()


def try_normalise(normaliser, value):
    """The normalised value, or None when the value is not of that kind (for search routing)."""
    try:
        return normaliser(value)
    except InvalidIdentifier:
        return None


def name_key(value):
    """Case-folded, whitespace-collapsed name used for indexed prefix search."""
    return " ".join((value or "").split()).casefold()


def mask(value, keep=4):
    """Show only the last `keep` characters (restricted-access data in lists)."""
    if not value:
        return ""
    value = str(value)
    return "•" * max(len(value) - keep, 0) + value[-keep:]
