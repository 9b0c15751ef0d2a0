"""The erasure jobs (policy 5.2, 5.3): one request, or a bulk approval's batch of requests (issue 16)."""
import logging

from rq.timeouts import BaseTimeoutException

from ..extensions import db
from ..services import audit, erasure, erasure_batches, execution
from .base import TRANSIENT_ERRORS, JobFailed, current_context, job_app, run_request_job

log = logging.getLogger("backoffice.jobs")


def erase_client(request_id):
    """Erase the client of an approved erasure or consent-withdrawal request."""
    return run_request_job("erasure", request_id, erasure.erase_client)


def erase_batch(*request_ids):
    """Erase the clients of a batch of approved requests, each in its own savepoint (services/erasure_batches).

    What escapes the service sent the whole batch back: a timeout queues each open member on its own, a transient
    error is retried like any request job, anything else fails every open member."""
    app = job_app()
    context = current_context()
    with app.app_context(), audit.appended_at_commit():
        try:
            return erasure_batches.erase_batch(request_ids, batch_job_id=context.job_id)
        except BaseTimeoutException:
            db.session.rollback()
            context.stop_retrying()
            final, error, timed_out = True, erasure_batches.BATCH_TIMED_OUT, True
        except TRANSIENT_ERRORS as exc:
            db.session.rollback()
            final, timed_out = not context.will_retry, False
            error = execution.transient_error(exc)
        except Exception as exc:
            db.session.rollback()
            context.stop_retrying()
            final, error, timed_out = True, execution.safe_error(exc), False
        log.warning("batch job %s (%s requests): %s; final=%s", context.job_id, len(request_ids), error, final)
        try:
            erasure_batches.run_failed(context.job_id, error, final, timed_out=timed_out)
        except TRANSIENT_ERRORS as exc:
            db.session.rollback()  # the database is unreachable too: reconcile finds the requests still open
            log.error("batch job %s: failure not recorded (%s)", context.job_id, type(exc).__name__)
        raise JobFailed(error) from None
