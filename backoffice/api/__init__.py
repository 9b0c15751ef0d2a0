"""JSON endpoints for the airline's other systems, authenticated per integration (not by staff session)."""
from . import consents, optouts  # noqa: F401  (registers the routes on bp)
from .blueprint import bp, init_api

__all__ = ["bp", "init_api"]
