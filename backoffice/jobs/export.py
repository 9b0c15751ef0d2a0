"""The export job (policy 5.4)."""
from ..services import export
from .base import run_request_job


def build_export(request_id):
    """Build the ZIP of everything held about the client of an approved access request."""
    return run_request_job("export", request_id, export.build_export)
