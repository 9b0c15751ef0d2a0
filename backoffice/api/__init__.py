"""JSON endpoints for the airline's other systems, authenticated per integration (not by staff session)."""
from . import optouts  # noqa: F401  (registers the routes on bp)
from .blueprint import bp

__all__ = ["bp"]
