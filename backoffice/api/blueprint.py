"""The /api/v1 blueprint the endpoint modules register their routes on (kept apart from api/__init__, which
imports those modules, so that they need not import their own package back)."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Integrations authenticate with a bearer token, not a session cookie, so there is no CSRF to defend against here.
csrf.exempt(bp)
