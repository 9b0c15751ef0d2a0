"""POST /api/v1/opt-outs: the B2B site's unsubscribe link (policy 3.2.2: effective immediately, no approval)."""
import logging

from flask import current_app, jsonify, request
from flask_babel import gettext as _

from ..models.optouts import CHANNELS
from ..services import integrations, optouts
from .blueprint import BodyError, bp, read_json

log = logging.getLogger("backoffice.api")
FIELDS = {"email", "phone", "channel"}


def _error(status, code, message, **headers):
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def _payload():
    """The validated (email, phone, channel), or an error response. Reads only."""
    try:
        data = read_json()
    except BodyError as error:
        return None, _error(error.status, error.code, str(error))
    if not isinstance(data, dict):
        return None, _error(400, "invalid_json",
                            _("Send a JSON object with Content-Type: application/json."))
    unknown = set(data) - FIELDS
    if unknown:
        return None, _error(400, "unknown_field", _("Unknown field(s): %(fields)s.", fields=", ".join(sorted(unknown))))
    for name in FIELDS:
        if name in data and data[name] is not None and not isinstance(data[name], str):
            return None, _error(400, "invalid_field", _("%(field)s must be a string.", field=name))
    channel = data.get("channel")
    if channel not in CHANNELS:
        return None, _error(400, "invalid_channel",
                            _("channel must be one of: %(channels)s.", channels=", ".join(CHANNELS)))
    try:
        email, phone = optouts.normalise_address(data.get("email"), data.get("phone"))
    except optouts.OptOutError as error:
        return None, _error(400, "invalid_address", str(error))
    return (email, phone, channel), None


def authorised_token():
    """(token, None) for a valid bearer token within its rate limit, else (None, the 401/429 response)."""
    token = integrations.authenticate(request.headers.get("Authorization"))
    if token is None:
        return None, _error(401, "unauthorized", _("Missing or invalid integration token."),
                            **{"WWW-Authenticate": 'Bearer realm="backoffice"'})
    if not integrations.admit(token, current_app.config["API_RATE_LIMIT_PER_MINUTE"]):
        return None, _error(429, "rate_limited", _("Too many requests for this token; try again in a minute."),
                            **{"Retry-After": "60"})
    return token, None


@bp.post("/opt-outs")
def create_opt_out():
    """Add an opt-out: 202 when listed (also when it already was: idempotent), 400 bad payload, 401 bad token."""
    token, refusal = authorised_token()
    if refusal is not None:
        return refusal
    payload, error = _payload()
    if error is not None:
        log.info("opt-out intake refused: token=%s reason=%s", token.id, error.get_json()["error"])
        return error
    email, phone, channel = payload
    optouts.add_from_integration(email, phone, channel, token.id)
    return jsonify({"status": "accepted"}), 202
