"""The erasure job (policy 5.2, 5.3)."""
from ..services import erasure
from .base import run_request_job


def erase_client(request_id):
    """Erase the client of an approved erasure or consent-withdrawal request."""
    return run_request_job("erasure", request_id, erasure.erase_client)
