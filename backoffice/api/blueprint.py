"""The /api/v1 blueprint and the bounds every endpoint on it shares (kept apart from api/__init__, which imports the
endpoint modules, so that they need not import their own package back).

Bounds every endpoint here shares (issue 13): the body is limited on the bytes actually read, whatever the
transfer encoding (a chunked body past API_MAX_BODY_BYTES is a 413), JSON nesting is limited to API_MAX_JSON_DEPTH
before the parser recurses, and calls that fail authentication are rate-limited per client IP (Flask-Limiter:
Redis when REDIS_URL is set, so every web process shares the count; memory otherwise).
"""
import json

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import RequestEntityTooLarge

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Integrations authenticate with a bearer token, not a session cookie, so there is no CSRF to defend against here.
csrf.exempt(bp)


class BodyError(ValueError):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code = status, code


@bp.before_request
def _limit_body():
    # Werkzeug refuses a larger Content-Length at once, but a chunked body (no Content-Length) is only cut off at
    # the limit, silently: one byte more is allowed through so that read_json can tell "too large" from "just fits".
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"] + 1


def json_depth_exceeds(raw, limit):
    """True when arrays/objects nest deeper than `limit` (scanned as text, before any recursive parse)."""
    depth, in_string, escaped = 0, False, False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def read_json():
    """The request's JSON document, or BodyError (413 too large, 400 not JSON or nested too deep)."""
    if not request.is_json:
        raise BodyError(400, "invalid_json", _("Send a JSON object with Content-Type: application/json."))
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raw = None
    if raw is None or len(raw) > current_app.config["API_MAX_BODY_BYTES"]:
        raise BodyError(413, "too_large", _("The request body is too large."))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "invalid_json", _("The request body is not UTF-8 JSON.")) from None
    if json_depth_exceeds(text, current_app.config["API_MAX_JSON_DEPTH"]):
        raise BodyError(400, "too_deep", _("The JSON document is nested too deeply."))
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BodyError(400, "invalid_json", _("Send a JSON object with Content-Type: application/json.")) from None


def _rate_limited(error):
    response = jsonify({"error": "rate_limited",
                        "message": _("Too many requests from this address; try again in a minute.")})
    response.status_code = 429
    response.headers["Retry-After"] = "60"
    return response


def init_api(app):
    """Register the API and its per-IP limit on failed authentication (a Limiter per app, like the Admin)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter = Limiter(get_remote_address, app=app, default_limits=[], strategy="fixed-window")
    per_minute = app.config["API_ANONYMOUS_RATE_LIMIT_PER_MINUTE"]
    # Only calls answered 401 are counted: a token-guessing client is slowed, a working integration is not.
    limiter.limit(f"{per_minute} per minute", deduct_when=lambda response: response.status_code == 401,
                  on_breach=lambda limit: _rate_limited(None))(bp)
    app.register_blueprint(bp)
    app.extensions["backoffice_limiter"] = limiter
    return limiter

