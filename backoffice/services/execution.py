"""Carrying out an approved request: its status moves while a job works on it, and the job's own record.

The database is the source of truth (issue 4): every status move is a RequestEvent plus an audit event, each job
has a JobRecord keyed by its queue id, and `reconcile` re-queues approved/executing requests whose job is gone.
The moves approved → executing → completed | failed are system steps through the lifecycle's one `transition`
(services/lifecycle); a manager's failed → approved retry is the staff step `retry` (services/steps.take_step).
"""
import datetime as dt
import logging
import os
import socket
import time
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from .. import labels, system_notes
from ..extensions import db
from ..models.base import utcnow
from ..models.jobs import FAILED, FINISHED, LOST, OPEN_JOB_STATUSES, RETRYING, STARTED, JobRecord
from ..models.requests import APPROVED, COMPLETED, EXECUTING, PrivacyRequest
from ..models.systems import BACKOFFICE_FIRST
from . import audit, fanout, jobqueue, lifecycle, propagation, steps

log = logging.getLogger("backoffice.jobs")

# A job pushed to the queue this recently may not be visible there yet: reconcile leaves it alone.
ENQUEUE_GRACE_SECONDS = 60


class ExecutionError(Exception):
    """A permanent failure. The message is shown to staff and stored: it must never contain personal data."""

    def __init__(self, message, code="refused"):
        super().__init__(message)
        self.message = message  # a lazy message: stored as a note, shown in the reader's language
        self.code = code


def safe_error(exc):
    """Error text fit for the database, the Jobs view and Redis (a system note): ours as the message, anything else
    by class name only.

    Driver errors quote SQL parameters, which may be personal data, so their message is never kept.
    """
    if isinstance(exc, ExecutionError):
        return system_notes.note(exc.message)
    return system_notes.note(_l("Unexpected error (%(error)s); the worker log has the details under the request "
                                "number."), error=type(exc).__name__)


def transient_error(exc):
    """The note for an attempt that failed on a passing fault (database or queue unreachable, a lock timeout)."""
    return system_notes.note(_l("The attempt failed on a temporary fault (%(error)s)."), error=type(exc).__name__)


def lock_request(request_id):
    """Load the request with a row lock (PostgreSQL), so two runs of one job serialise."""
    return db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.id == request_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def claim(request_id, types):
    """Lock the request a job works on; None (lock released) if it is already completed: a re-run is a no-op.

    Raises ExecutionError when the request is missing or of a type this job does not carry out.
    """
    privacy_request = claim_locked(request_id, types)
    if privacy_request is None:
        db.session.rollback()
    return privacy_request


def claim_locked(request_id, types):
    """`claim` within a larger transaction (a batch's savepoint): nothing is rolled back here."""
    privacy_request = lock_request(request_id)
    if privacy_request is None:
        raise ExecutionError(_l("The request no longer exists."), code="not_found")
    if privacy_request.status == COMPLETED:
        return None
    if privacy_request.type not in types:
        raise ExecutionError(_l("This job does not carry out requests of this type (%(type)s).",
                                 type=labels.label(privacy_request.type, "request_type")), code="wrong_type")
    return privacy_request


def _system_step(privacy_request, action, comment=None, details=None, effect=None):
    """A system step (by=None) through the lifecycle's one `transition`, in the job's transaction."""
    try:
        lifecycle.transition(privacy_request, action, None, comment=comment, details=details, effect=effect)
    except lifecycle.WorkflowError as exc:
        raise ExecutionError(exc.message, code="illegal_transition") from None


def mark_executing(privacy_request, job_id):
    """approved → executing when a job picks the request up; a re-run after a crash only audits the restart."""
    if privacy_request.status == EXECUTING:
        audit.record("request.execution_resumed", object_type="privacy_request", object_id=privacy_request.id,
                     request_id=privacy_request.id, details={"job_id": job_id})
    else:
        _system_step(privacy_request, "begin_execution", details={"job_id": job_id})
    if job_id:
        privacy_request.job_id = job_id


def mark_completed(privacy_request, outcome, details=None, certificate=None):
    """executing → completed, in the caller's transaction (together with the work itself)."""
    def effect(r):
        r.outcome = outcome
        r.completed_at = utcnow()
        if certificate is not None:
            r.certificate = certificate
    _system_step(privacy_request, "complete", comment=outcome, details=details, effect=effect)
    finish_record(privacy_request.job_id)


def finish_record(job_id):
    """The job's record says finished in the same commit as the work (job_finished then has nothing to write)."""
    record = db.session.get(JobRecord, job_id) if job_id else None
    if record is not None and record.status != FINISHED:
        record.status = FINISHED
        record.error = None
        record.ended_at = utcnow()


def complete_after_systems(request_id, job_id=None):
    """Complete a rectification, blocking or unblocking once every other system is done (policy 5.2).

    The back-office applied it already (the step that handed it over); this job only checks that no system is
    still open, drops the identities a rectification replaced, and completes. A re-run is a no-op.
    """
    privacy_request = claim(request_id, BACKOFFICE_FIRST)
    if privacy_request is None or privacy_request.status != EXECUTING:
        db.session.rollback()
        return {"request_id": request_id, "noop": True}
    waiting = fanout.blocking_tasks(request_id, privacy_request.type)
    if waiting:
        db.session.rollback()  # a task's settling queues this job again
        return {"request_id": request_id, "noop": True, "waiting_on": [task.system.name for task in waiting]}
    systems = {str(task.system_id): task.status for task in fanout.tasks_of(request_id)}
    if job_id:
        privacy_request.job_id = job_id
    propagation.forget_previous(privacy_request)
    mark_completed(privacy_request, privacy_request.outcome, details={"systems": systems})
    db.session.commit()
    return {"request_id": request_id, "noop": False, "systems": len(systems)}


def mark_failed(request_id, error):
    """approved/executing → failed in its own transaction; the error text carries no personal data."""
    db.session.rollback()
    if not fail_in_transaction(request_id, error):
        db.session.rollback()
        return False
    db.session.commit()
    return True


def fail_in_transaction(request_id, error, job_id=None):
    """approved/executing → failed in the caller's transaction (a batch fails one subject alone); False if neither.

    `job_id`: only while the request is still that job's (not queued again under another)."""
    privacy_request = lock_request(request_id)
    if privacy_request is None or privacy_request.status not in (APPROVED, EXECUTING):
        return False
    if job_id is not None and privacy_request.job_id not in (None, job_id):
        return False

    def effect(r):
        r.outcome = error
    _system_step(privacy_request, "fail", comment=error, details={"error": error}, effect=effect)
    return True


def retry_request(request_id, by):
    """A manager sends a failed request back to the queue: failed → approved, then a new job (issue 4).

    The lifecycle's `retry` step decides who may (managers) and refuses a blocked client's erasure.
    """
    privacy_request = lock_request(request_id)
    if privacy_request is None:
        db.session.rollback()
        raise ExecutionError(_l("The request no longer exists."), code="not_found")
    if privacy_request.status == EXECUTING:
        db.session.rollback()
        return jobqueue.enqueue_request_job(request_id)
    try:
        steps.take_step(privacy_request, "retry", by)
    except lifecycle.WorkflowError as exc:
        raise ExecutionError(exc.message, code="not_retryable") from None
    return privacy_request.job_id


# --- The job's own record ------------------------------------------------------------------------------------

def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def job_started(job_id, commit=True):
    """Mark the job record started; `commit=False` leaves it to the work's first commit (one commit fewer)."""
    record = db.session.get(JobRecord, job_id)
    if record is not None:
        record.status = STARTED
        record.attempts = (record.attempts or 0) + 1
        record.started_at = utcnow()
        record.ended_at = None
        record.worker = worker_name()
    if commit:
        db.session.commit()
    return record


def job_finished(job_id):
    record = db.session.get(JobRecord, job_id)
    if record is None or record.status == FINISHED:
        db.session.rollback()  # marked in the work's own commit (mark_completed), or a no-op re-run
        return
    finish_record(job_id)
    db.session.commit()


def job_failed(job_id, error, final, commit=True):
    """The job's record says failed (or retrying); `commit=False` within a batch's transaction."""
    if commit:
        db.session.rollback()
    record = db.session.get(JobRecord, job_id)
    if record is not None:
        record.status = FAILED if final else RETRYING
        record.error = error
        record.ended_at = utcnow()
    if commit:
        db.session.commit()


def close_record(job_id, status, error):
    """End a job record with `status` and a reason (in the caller's transaction)."""
    record = db.session.get(JobRecord, job_id)
    if record is not None:
        record.status, record.error, record.ended_at = status, error, utcnow()


PAUSE_LIMIT_SECONDS = 180


def checkpoint(name, optional=False):
    """Test hook: with JOB_PAUSE_DIR set, announce `name` and wait for the test to release it.

    Lets a test kill a real worker at a known point of a job without guessing with sleeps. An `optional`
    checkpoint holds only when the test asked for it (a `<name>.hold` file), so tests that pause further on
    are not stopped by it.
    """
    pause_dir = current_app.config.get("JOB_PAUSE_DIR")
    if not pause_dir or (optional and not Path(pause_dir, f"{name}.hold").exists()):
        return
    announce = Path(pause_dir, f"{name}.reached.tmp")
    announce.write_text(str(os.getpid()))
    announce.replace(Path(pause_dir, f"{name}.reached"))  # atomic: the test never reads half a pid
    release = Path(pause_dir, f"{name}.release")
    deadline = time.monotonic() + PAUSE_LIMIT_SECONDS  # a test that forgot its pause must not hold locks for ever
    while not release.exists():
        if not Path(pause_dir).is_dir() or time.monotonic() > deadline:
            raise ExecutionError(_l("A test pause was removed or never released."), code="test_abort")
        time.sleep(0.05)


# --- Reconcile ----------------------------------------------------------------------------------------------

def _latest_records(request_ids, chunk=1000):
    """{request id: its latest JobRecord} for many requests (a few IN queries, newest first)."""
    latest = {}
    for start in range(0, len(request_ids), chunk):
        for record in db.session.execute(
                select(JobRecord).where(JobRecord.request_id.in_(request_ids[start:start + chunk]))
                .order_by(JobRecord.enqueued_at.desc(), JobRecord.id.desc())).scalars():
            latest.setdefault(record.request_id, record)
    return latest


_UNKNOWN = object()


def mark_lost(record, now):
    """An open job record whose job the queue forgot (or whose worker died) ends as lost; its work is queued again."""
    if record.status in OPEN_JOB_STATUSES:
        record.status = LOST
        record.error = system_notes.note(_l("The job was lost (the queue forgot it or its worker stopped); it was queued "
                                           "again."))
        record.ended_at = now


def job_is_live(record, now, stale_before, state=_UNKNOWN, heartbeat=None):
    """Is someone going to finish this job? Waiting jobs are; started ones only while recent and their worker lives.

    `heartbeat`: when a long job last showed progress (an import's run row), counted instead of its start.
    """
    if state is _UNKNOWN:
        state = jobqueue.job_state(record.queue_job_id)
    if state in ("queued", "scheduled", "deferred"):
        return True
    if state == "started":
        started = heartbeat or record.started_at or record.enqueued_at
        return started >= stale_before and jobqueue.worker_alive(record.queue_job_id)
    if state is None:
        # Not in the queue at all: lost, unless it was pushed a moment ago.
        return record.enqueued_at >= now - dt.timedelta(seconds=ENQUEUE_GRACE_SECONDS) and record.attempts == 0
    return False


def reconcile(now=None, stale_after=None):
    """Re-queue every approved/executing request without a live job (Redis flushed, worker killed); ids returned."""
    now = now or utcnow()
    if stale_after is None:
        stale_after = current_app.config["JOB_STALE_SECONDS"]
    stale_before = now - dt.timedelta(seconds=stale_after)
    # Rectification and blocking wait for a job only once handed over (executing); approved, they wait for staff.
    candidates = db.session.execute(
        select(PrivacyRequest.id, PrivacyRequest.updated_at)
        .where(or_(and_(PrivacyRequest.status.in_((APPROVED, EXECUTING)),
                        PrivacyRequest.type.in_(tuple(jobqueue.JOB_FOR_TYPE))),
                   and_(PrivacyRequest.status == EXECUTING, PrivacyRequest.type.in_(BACKOFFICE_FIRST))))
        .order_by(PrivacyRequest.id)
    ).all()
    grace_start = now - dt.timedelta(seconds=ENQUEUE_GRACE_SECONDS)
    # Every open request's latest record and its queue state in a few statements and one Redis round trip: with
    # a burst of thousands waiting, reconcile runs every 15 s and must not cost a query per request.
    records = _latest_records([request_id for request_id, _updated in candidates])
    states = jobqueue.job_states({record.queue_job_id for record in records.values()})
    requeued = []
    for request_id, updated_at in candidates:
        record = records.get(request_id)
        if record is None and updated_at >= grace_start:
            continue  # approved a moment ago: the approving request is queueing its job right now
        if record is not None and job_is_live(record, now, stale_before,
                                                state=states.get(record.queue_job_id)):
            continue
        if fanout.only_waiting_for_people(request_id):
            continue  # a manual confirmation or a webhook callback is due, not a job
        lost_job = None
        if record is not None:
            lost_job = record.id
            mark_lost(record, now)
        audit.record("job.requeued", object_type="privacy_request", object_id=request_id, request_id=request_id,
                     details={"lost_job_id": lost_job})
        db.session.commit()
        job_ids = fanout.dispatch(request_id, requeue=True)
        log.info("reconcile: request %s re-queued as job(s) %s (lost job %s)", request_id, job_ids, lost_job)
        requeued.append(request_id)
    return requeued


def open_jobs(limit=200):
    """JobRecords for the Jobs view: queued, started, retrying and failed, newest first."""
    return db.session.execute(
        select(JobRecord).where(JobRecord.status.in_((*OPEN_JOB_STATUSES, FAILED, LOST)))
        .order_by(JobRecord.enqueued_at.desc()).limit(limit)
    ).scalars().all()


def finished_jobs(status=None, kind=None, limit=100):
    """The Jobs view's history: finished, failed and lost jobs, newest first, optionally of one status or kind."""
    statuses = (FINISHED, FAILED, LOST)
    query = select(JobRecord).where(JobRecord.status.in_((status,) if status in statuses else statuses))
    if kind:
        query = query.where(JobRecord.kind == kind[:20])
    return db.session.execute(
        query.order_by(JobRecord.ended_at.is_(None), JobRecord.ended_at.desc(), JobRecord.enqueued_at.desc())
        .limit(limit)).scalars().all()


def job_kinds():
    """The kinds of job the history can be filtered by."""
    return sorted(db.session.execute(select(JobRecord.kind).distinct()).scalars())
