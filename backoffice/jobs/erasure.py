"""The erasure jobs (policy 5.2, 5.3): one request, or a bulk approval's batch of requests (issue 16)."""
from ..services import erasure
from .base import run_batch_job, run_request_job


def erase_client(request_id):
    """Erase the client of an approved erasure or consent-withdrawal request."""
    return run_request_job("erasure", request_id, erasure.erase_client)


def erase_batch(*request_ids):
    """Erase the clients of a batch of approved requests, each in its own savepoint (services.erasure.erase_batch)."""
    return run_batch_job("erasure", request_ids, erasure.erase_batch)
