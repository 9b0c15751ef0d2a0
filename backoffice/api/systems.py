"""POST /api/v1/systems/<id>/confirm: a webhook system confirms later that it carried out a request.

Authenticated by the HMAC signature of the body with the system's secret (docs/jobs.md "Webhook signature"),
not by a session or token: a bad signature or stale timestamp gets 401 and changes nothing.
"""
from flask import jsonify, request
from flask_babel import gettext as _

from ..services import fanout
from ..services.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from .blueprint import bp

MAX_BODY = 16 * 1024


def _error(status, code, message):
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    return response


@bp.post("/systems/<int:system_id>/confirm")
def confirm_system_task(system_id):
    """200 with the task's status; 401 bad signature; 400 not a confirmation of this system's task."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(400, "too_large", _("The request body is too large."))
    body = request.get_data(cache=False)
    try:
        task = fanout.receive_callback(system_id, request.headers.get(TIMESTAMP_HEADER),
                                       request.headers.get(SIGNATURE_HEADER), body)
    except fanout.CallbackRefused:
        return _error(401, "unauthorized", _("Missing or invalid signature, or the timestamp is too old."))
    except fanout.CallbackInvalid:
        return _error(400, "invalid_confirmation",
                      _("Send {\"task_id\": <id>, \"status\": \"done\" or \"failed\"} for a task of this system."))
    return jsonify({"task_id": task.id, "status": task.status})
