"""JSON endpoints for the airline's other systems, authenticated per integration (not by staff session)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
