"""What every job shares: the worker's app, the JobRecord bookkeeping, and which errors are worth a retry.

The process that runs jobs binds its app: the `flask worker` command binds the app it was started with (the
factory is never called from here: the factory imports the jobs, not the other way round), and the embedded worker
runs each job inside its own app's context. A forked work horse first drops the database connections it inherited.
Each job runs in its own app context, hence its own session.
"""
import logging
import os
import threading
from contextlib import contextmanager

from flask import current_app, has_app_context
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import get_current_job
from sqlalchemy.exc import InterfaceError, OperationalError

from ..extensions import db
from ..services import audit, execution

log = logging.getLogger("backoffice.jobs")

_worker_app = None
_embedded = threading.local()


class JobFailed(Exception):
    """Raised out of a job with a message free of personal data (it ends up in Redis's failed registry)."""


# Errors that a later attempt may not meet: lost database or Redis connections, lock timeouts.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def bind_worker_app(app):
    """The worker command hands over the app it built, so jobs do not build another."""
    global _worker_app
    _worker_app = app
    app.extensions["backoffice_job_pid"] = os.getpid()


def job_app():
    if has_app_context():
        app = current_app._get_current_object()
    elif _worker_app is None:
        raise RuntimeError("no app bound for jobs: run workers with `flask --app wsgi worker`")
    else:
        app = _worker_app
    if app.extensions.get("backoffice_job_pid") != os.getpid():
        # A forked work horse must not reuse the parent's pooled connections.
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        app.extensions["backoffice_job_pid"] = os.getpid()
    return app


class JobContext:
    """The running job's id and whether a failure will be retried (RQ or the embedded worker)."""

    def __init__(self, job_id, retries_left, rq_job=None):
        self.job_id = job_id
        self.retries_left = retries_left or 0
        self.rq_job = rq_job
        self.stopped = False

    @property
    def will_retry(self):
        return not self.stopped and self.retries_left > 0

    def stop_retrying(self):
        """A permanent failure: no point in another attempt."""
        self.stopped = True
        if self.rq_job is not None:
            self.rq_job.retries_left = 0


def current_context():
    embedded = getattr(_embedded, "context", None)
    if embedded is not None:
        return embedded
    job = get_current_job()
    if job is None:
        return JobContext(None, 0)
    return JobContext(job.id, job.retries_left, rq_job=job)


@contextmanager
def embedded_context(context):
    _embedded.context = context
    try:
        yield context
    finally:
        _embedded.context = None


def run_request_job(kind, request_id, service):
    """Run `service(request_id, job_id=...)` for a request job; failures end in JobRecord and request state."""
    return run_recorded_job(kind, request_id, service, execution.mark_failed, what="request")


def run_recorded_job(kind, object_id, service, mark_failed, what):
    """Run `service(object_id, job_id=...)` for a job with a JobRecord (a request's, an opt-out import's).

    Transient errors are retried (the record says so); anything else, or the last attempt, ends the record failed
    and calls `mark_failed(object_id, error)` so the object's own state says so too. Error texts carry no
    personal data (execution.safe_error).
    """
    app = job_app()
    context = current_context()
    # Events join the audit chain when each transaction commits: workers side by side do not queue on its lock.
    with app.app_context(), audit.appended_at_commit():
        if context.job_id:
            execution.job_started(context.job_id)
        try:
            result = service(object_id, job_id=context.job_id)
        except TRANSIENT_ERRORS as exc:
            db.session.rollback()
            final = not context.will_retry
            error = execution.transient_error(exc)
            log.warning("job %s %s %s: %s; final=%s", context.job_id, what, object_id, error, final)
            _record_failure(context, object_id, error, final, mark_failed, what)
            raise JobFailed(error) from None
        except Exception as exc:
            db.session.rollback()
            context.stop_retrying()
            error = execution.safe_error(exc)
            log.error("job %s %s %s failed: %s", context.job_id, what, object_id, type(exc).__name__,
                      exc_info=not isinstance(exc, execution.ExecutionError))
            _record_failure(context, object_id, error, True, mark_failed, what)
            raise JobFailed(error) from None
        if context.job_id:
            execution.job_finished(context.job_id)
        return result


def _record_failure(context, object_id, error, final, mark_failed, what):
    try:
        if context.job_id:
            execution.job_failed(context.job_id, error, final)
        if final:
            mark_failed(object_id, error)
    except TRANSIENT_ERRORS as exc:
        # The database is unreachable too: reconcile finds the request (or import) still open later.
        db.session.rollback()
        log.error("job %s %s %s: failure not recorded (%s)", context.job_id, what, object_id, type(exc).__name__)


def run_maintenance_job(service, **kwargs):
    """Run a periodic maintenance service in its own app context."""
    app = job_app()
    with app.app_context():
        return service(**kwargs)
