"""POST /api/v1/consent-events: consent given or withdrawn on the booking site (policy 3.2, 4.2).

Authenticated by the integration token like the opt-out intake; idempotent by the site's `event_id`.
"""
import logging

from flask import jsonify
from flask_babel import gettext as _

from ..services import notices
from .blueprint import BodyError, bp, read_json
from .optouts import _error, authorised_token

log = logging.getLogger("backoffice.api")
FIELDS = {"event_id", "client_id", "email", "purpose", "kind", "notice_version", "channel"}
STRINGS = FIELDS - {"client_id"}


@bp.post("/consent-events")
def create_consent_event():
    """201 when applied, 200 when the event id was seen before, 400 bad payload, 401 bad token, 422 unknown client."""
    token, refusal = authorised_token()
    if refusal is not None:
        return refusal
    try:
        data = read_json()
    except BodyError as error:
        return _error(error.status, error.code, str(error))
    if not isinstance(data, dict):
        return _error(400, "invalid_json", _("Send a JSON object with Content-Type: application/json."))
    unknown = set(data) - FIELDS
    if unknown:
        return _error(400, "unknown_field", _("Unknown field(s): %(fields)s.", fields=", ".join(sorted(unknown))))
    for name in STRINGS:
        if data.get(name) is not None and not isinstance(data[name], str):
            return _error(400, "invalid_field", _("%(field)s must be a string.", field=name))
    client_id = data.get("client_id")
    if client_id is not None and (not isinstance(client_id, int) or isinstance(client_id, bool)
                                  or not 0 < client_id < 2**63):
        return _error(400, "invalid_field", _("%(field)s must be a whole number.", field="client_id"))
    if client_id is None and not data.get("email"):
        return _error(400, "invalid_field", _("Give client_id or email."))
    try:
        created, consent_id = notices.record_intake_event(
            token, event_id=data.get("event_id"), purpose=data.get("purpose"), kind=data.get("kind"),
            channel=data.get("channel") or "booking_site", notice_version=data.get("notice_version"),
            client_id=client_id, email=data.get("email"))
    except notices.NoticeError as error:
        log.info("consent intake refused: token=%s reason=%s", token.id, error.code)
        status = 422 if error.code == "unknown_client" else 400
        return _error(status, error.code, str(error))
    return jsonify({"status": "applied" if created else "duplicate", "consent_id": consent_id}), 201 if created else 200
