"""JSON endpoints for the airline's other systems, authenticated per integration (not by staff session)."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Integrations authenticate with a bearer token, not a session cookie, so there is no CSRF to defend against here.
csrf.exempt(bp)

from . import optouts, systems  # noqa: E402,F401  (registers the routes on bp)
