"""Rectification (policy 5.2): which client fields a request may change, how new values are checked and applied."""
import datetime as dt

from flask_babel import lazy_gettext as _l

from ..identifiers import InvalidIdentifier, name_key, normalise_email, normalise_iin, normalise_phone
from ..models.clients import LANGUAGES, RECTIFIABLE_FIELDS
from . import propagation
from .lifecycle import InvalidInput


def parse_date(value, field, errors):
    """An ISO date from a form field, or None; a bad value is noted in `errors[field]`."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = _l("Enter a date as YYYY-MM-DD.")
        return None


def validate_changes(raw):
    """Clean a rectification's proposed field changes (policy 5.2): (changes, field errors). Empty values are skipped."""
    changes, errors = {}, {}
    for field in RECTIFIABLE_FIELDS:
        value = raw.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            if field == "full_name":
                value = " ".join(str(value).split())
                if len(value) > 200:
                    raise InvalidIdentifier(_l("At most %(n)s characters.", n=200))
            elif field == "position":
                value = str(value).strip()
                if len(value) > 120:
                    raise InvalidIdentifier(_l("At most %(n)s characters.", n=120))
            elif field == "email":
                value = normalise_email(value)
            elif field == "phone":
                value = normalise_phone(value)
            elif field == "iin":
                value = normalise_iin(value)
            elif field == "preferred_language":
                if value not in LANGUAGES:
                    raise InvalidIdentifier(_l("Choose kk, ru or en."))
            elif field == "date_of_birth":
                parsed = parse_date(value, field, errors)
                if parsed is None:
                    continue
                if parsed > dt.date.today() or parsed.year < 1900:
                    raise InvalidIdentifier(_l("This date of birth is not possible."))
                value = parsed.isoformat()
        except InvalidIdentifier as exc:
            errors[field] = exc.args[0]
            continue
        changes[field] = value
    if not changes and not errors:
        errors["full_name"] = _l("Enter at least one new value.")
    return changes, errors


def apply_rectification(req, client, keep_previous=False):
    """Apply the request's proposed changes to the client, re-validated now (policy 5.2); field names returned.

    `keep_previous` (other systems follow): the identities being replaced stay on the request until it
    completes, so those systems can still find the client's rows (services/propagation).
    """
    changes, errors = validate_changes((req.payload or {}).get("changes") or {})
    if errors:
        raise InvalidInput(_l("The proposed changes are no longer valid; create a new request."),
                           {f"new_{k}": v for k, v in errors.items()})
    if keep_previous:
        req.payload = {**(req.payload or {}), "changes": changes,
                       propagation.PREVIOUS: propagation.previous_identities(client, changes)}
    for field, value in changes.items():
        if field == "date_of_birth":
            value = dt.date.fromisoformat(value)
        setattr(client, field, value)
        if field == "full_name":
            client.name_key = name_key(value)
        elif field == "email":
            client.email_norm = value
        elif field == "phone":
            client.phone_e164 = value
    return {"fields": sorted(changes)}
