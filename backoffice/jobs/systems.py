"""The per-system job of a request's fan-out (policy 5.2-5.4): one system, one job, retried alone."""
import logging

from .. import system_notes
from ..extensions import db
from ..services import execution, fanout
from .base import TRANSIENT_ERRORS, JobFailed, current_context, job_app, run_request_job

log = logging.getLogger("backoffice.jobs")


def run_system_task(task_id):
    """Carry out one system's part of an approved request; a failure leaves the other systems and the request."""
    app = job_app()
    context = current_context()
    with app.app_context():
        if context.job_id:
            execution.job_started(context.job_id, commit=False)  # committed with the task's "running"
        try:
            result = fanout.run_task(task_id, job_id=context.job_id)
        except (fanout.TaskFailed, *TRANSIENT_ERRORS) as exc:
            db.session.rollback()
            transient = getattr(exc, "transient", True)
            if not transient:
                context.stop_retrying()
            final = not context.will_retry
            error = (system_notes.note(exc.message) if isinstance(exc, fanout.TaskFailed)
                     else execution.transient_error(exc))
            log.warning("job %s system task %s failed: %s; final=%s", context.job_id, task_id,
                        type(exc).__name__, final)
            fanout.record_failure(task_id, error, final)
            if context.job_id:
                execution.job_failed(context.job_id, error, final)
            raise JobFailed(error) from None
        except Exception as exc:
            db.session.rollback()
            context.stop_retrying()
            error = execution.safe_error(exc)
            log.error("job %s system task %s failed: %s", context.job_id, task_id, type(exc).__name__,
                      exc_info=True)
            fanout.record_failure(task_id, error, True)
            if context.job_id:
                execution.job_failed(context.job_id, error, True)
            raise JobFailed(error) from None
        if context.job_id:
            execution.job_finished(context.job_id)
        return result


def complete_after_systems(request_id):
    """Complete a rectification or (un)blocking the back-office applied first, once every system is done."""
    return run_request_job("completion", request_id, execution.complete_after_systems)
