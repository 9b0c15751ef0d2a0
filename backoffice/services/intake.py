"""Receiving a privacy request (Law art. 24–25; policy 5.2–5.4, 3.2.2, 4.1): validate it, date it, match it.

Bad input is refused as a whole with field errors (InvalidInput) and nothing is saved. A marketing opt-out is
completed at intake, through the lifecycle's one `transition`, with no approval or identity check (policy 3.2.2).
"""
import datetime as dt

from flask_babel import lazy_gettext as _l

from .. import system_notes
from ..extensions import db
from ..identifiers import InvalidIdentifier, normalise_email, normalise_phone
from ..models.base import utcnow
from ..models.clients import ERASED
from ..models.optouts import CHANNELS as OPT_OUT_CHANNELS
from ..models.requests import (
    BLOCKING, CHANNELS, MARKETING_OPT_OUT, RECEIVED, RECTIFICATION, REQUEST_TYPES, THIRD_PARTY_GRANT, PrivacyRequest,
)
from . import completion, deadlines, matching
from .clients import classify_term
from .lifecycle import MAX_TEXT, InvalidInput, record_step, transition, unit_of_work
from .rectification import parse_date, validate_changes


def _clean_payload(request_type, payload, errors, today):
    payload = dict(payload or {})
    if request_type == RECTIFICATION:
        changes, change_errors = validate_changes(payload.get("changes") or {})
        errors.update({f"new_{k}": v for k, v in change_errors.items()})
        return {"changes": changes}
    if request_type == BLOCKING:
        until = parse_date(payload.get("blocked_until"), "blocked_until", errors)
        if until is not None and until <= today:
            errors["blocked_until"] = _l("The end of the block must be in the future.")
        return {"blocked_until": until.isoformat() if until else None}
    if request_type == THIRD_PARTY_GRANT:
        recipient = " ".join(str(payload.get("recipient") or "").split())
        scope = str(payload.get("scope") or "").strip()
        if not recipient:
            errors["recipient"] = _l("Name the person or organisation.")
        elif len(recipient) > 200:
            errors["recipient"] = _l("At most %(n)s characters.", n=200)
        if not scope:
            errors["scope"] = _l("Describe which data they may access.")
        elif len(scope) > MAX_TEXT:
            errors["scope"] = _l("At most %(n)s characters.", n=MAX_TEXT)
        expires = parse_date(payload.get("expires_on"), "expires_on", errors)
        if expires is not None and expires <= today:
            errors["expires_on"] = _l("The expiry must be in the future.")
        return {"recipient": recipient, "scope": scope, "expires_on": expires.isoformat() if expires else None}
    if request_type == MARKETING_OPT_OUT:
        channel = payload.get("channel") or "all"
        if channel not in OPT_OUT_CHANNELS:
            errors["opt_out_channel"] = _l("Not a valid choice.")
        return {"channel": channel}
    return {}


def check_new_request(**fields):
    """Field errors `create_request` would refuse these fields with (for forms that show every error at once)."""
    try:
        _clean_new_request(**fields)
    except InvalidInput as error:
        return error.field_errors
    return {}


def _clean_new_request(*, type, channel="email", requester_name=None, requester_email=None, requester_phone=None,
                       identifier=None, description=None, payload=None, client=None, received_at=None):
    errors = {}
    now = utcnow()
    if type not in REQUEST_TYPES:
        errors["type"] = _l("Not a valid choice.")
    if channel not in CHANNELS:
        errors["channel"] = _l("Not a valid choice.")
    requester_name = " ".join((requester_name or "").split()) or None
    if requester_name and len(requester_name) > 200:
        errors["requester_name"] = _l("At most %(n)s characters.", n=200)
    email_norm = phone_norm = None
    if requester_email and requester_email.strip():
        try:
            email_norm = normalise_email(requester_email)
        except InvalidIdentifier as exc:
            errors["requester_email"] = exc.args[0]
    if requester_phone and requester_phone.strip():
        try:
            phone_norm = normalise_phone(requester_phone)
        except InvalidIdentifier as exc:
            errors["requester_phone"] = exc.args[0]
    identifier_kind = identifier_value = None
    if identifier and identifier.strip():
        identifier_kind, identifier_value = classify_term(identifier)
        if identifier_kind == "pnr_or_name":
            identifier_kind = "pnr"
        if identifier_kind not in ("iin", "pnr", "email", "phone"):
            errors["identifier"] = _l("Enter an IIN (12 digits with a valid control digit) or a 6-character PNR.")
    description = (description or "").strip() or None
    if description and len(description) > MAX_TEXT:
        errors["description"] = _l("At most %(n)s characters.", n=MAX_TEXT)
    if received_at is None:
        received_at = now
    elif received_at > now + dt.timedelta(minutes=5):
        errors["received_at"] = _l("The receipt time cannot be in the future.")
    clean = _clean_payload(type, payload, errors, deadlines.local_date(now)) if type in REQUEST_TYPES else {}
    if type == MARKETING_OPT_OUT and not (email_norm or phone_norm or (client and (client.email or client.phone))):
        errors["requester_email"] = _l("An opt-out needs the e-mail address or phone number to suppress.")
    if client is not None and client.status == ERASED:
        errors["client"] = _l("This client was erased.")
    if errors:
        raise InvalidInput(_l("Please correct the highlighted fields. Nothing was saved."), errors)
    if identifier_value:
        clean["identifier"] = {"kind": identifier_kind, "value": identifier_value}
    return dict(type=type, channel=channel, requester_name=requester_name, requester_email=email_norm,
                requester_phone=phone_norm, description=description, payload=clean or None, client=client,
                received_at=received_at)


def create_request(*, by, **fields):
    """Record a request as received, with its statutory due date (Law art. 24–25) and, if unambiguous, its client.

    A marketing opt-out is put on the suppression list at once and completed (policy 3.2.2: no approval,
    no identity check). Raises InvalidInput with field errors and saves nothing on bad input.
    Fields: type, channel, requester_name/_email/_phone, identifier (IIN or PNR), description, payload,
    client, received_at.
    """
    clean = _clean_new_request(**fields)
    type, channel, client, received_at = clean["type"], clean["channel"], clean["client"], clean["received_at"]
    with unit_of_work():
        req = PrivacyRequest(type=type, channel=channel, status=RECEIVED, received_at=received_at,
                             requester_name=clean["requester_name"], requester_email=clean["requester_email"],
                             requester_phone=clean["requester_phone"], description=clean["description"],
                             payload=clean["payload"], created_by_id=by.id if by else None,
                             client_id=client.id if client is not None else None)
        req.due_at = deadlines.initial_due_at(type, received_at)
        db.session.add(req)
        db.session.flush()
        matched = "given" if client is not None else None
        if client is None:
            candidates = matching.find_candidates(req)
            if len(candidates) == 1:
                req.client_id = candidates[0].id
                matched = "unique_match"
        record_step(req, "create", by, None, RECEIVED,
               details={"channel": channel, "client_id": req.client_id, "matched": matched})
    if type == MARKETING_OPT_OUT:
        with unit_of_work():
            transition(req, "complete", by, effect=completion.opt_out_effect(by),
                       comment=system_notes.note(completion.OPT_OUT_RECORDED))
    return req
