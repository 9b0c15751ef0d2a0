"""Bulk approval's erasures in batches (policy 5.3; issue 16): a savepoint per subject, one commit per batch.

`jobqueue.erasure_batches()` queues the erasures one bulk approval approves as jobs of ERASURE_BATCH_SIZE subjects;
each request keeps a job record of its own that names the batch's job (`JobRecord.batch_job_id`). Here the batch
job marks its members started, erases each subject in its own savepoint (`erasure.erase_in_transaction`), commits
once, then checks each subject's erasure in its own savepoint. What goes wrong for one subject stays with it.
"""
import logging

from flask_babel import lazy_gettext as _l
from rq.timeouts import BaseTimeoutException
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from .. import system_notes
from ..extensions import db
from ..models.jobs import LOST, OPEN_JOB_STATUSES, JobRecord
from . import audit, erasure, erasure_check, execution, jobqueue
from .transaction import open_for_savepoints

log = logging.getLogger("backoffice.jobs")

# A lost connection sends the whole batch back (the job is retried); a lock or statement timeout, one subject.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
BATCH_TIMED_OUT = system_notes.note(_l("Its batch ran out of time; it was queued again on its own."))


def members(batch_job_id, open_only=False):
    """{request id: JobRecord} of the requests a batch job carries out.

    `open_only`: only records still waiting or running (not finished, failed, or lost and queued again)."""
    if not batch_job_id:
        return {}
    query = select(JobRecord).where(JobRecord.batch_job_id == batch_job_id)
    if open_only:
        query = query.where(JobRecord.status.in_(OPEN_JOB_STATUSES))
    return {record.request_id: record for record in db.session.execute(query).scalars()}


def start(batch_job_id):
    """Mark a batch's open members started and commit; {request id: record id} of those members."""
    records = members(batch_job_id, open_only=True)
    for record in records.values():
        execution.job_started(record.id, commit=False)
    started = {request_id: record.id for request_id, record in records.items()}
    db.session.commit()
    return started


def erase_batch(request_ids, batch_job_id=None, today=None):
    """Erase the subjects of a bulk approval in one transaction, each in its own savepoint.

    A subject that cannot be erased (blocked, a bug) is rolled back alone and its request fails with the reason; a
    subject that meets a lock or statement timeout is rolled back alone and queued again on its own; the others
    commit together, sharing one commit and one append to the audit chain. Each request gets its certificate
    exactly once (the row lock and the completed check of `claim`); a member queued again on its own meanwhile is
    left to that job. A lost connection or the job's timeout sends the whole batch back (`run_failed`).
    Returns {"completed", "failed", "noop", "requeued"}: lists of request ids.
    """
    today = today or erasure.local_today()
    # Committed before the work: reconcile sees the members running, not waiting since their approval.
    records = start(batch_job_id) if batch_job_id else {}
    outcome = {"completed": [], "failed": [], "noop": [], "requeued": []}
    summaries = []
    with audit.appended_at_commit():
        open_for_savepoints()
        for request_id in sorted(set(request_ids)):
            record_id = records.get(request_id)
            if batch_job_id and record_id is None:
                outcome["noop"].append(request_id)  # its record is closed: queued again on its own, or done
                continue
            try:
                with db.session.begin_nested():
                    summary = erasure.erase_in_transaction(request_id, record_id, today, owner=record_id)
            except BaseTimeoutException:
                raise  # the job's own time is up: the whole batch goes back
            except TRANSIENT_DB_ERRORS as exc:
                if getattr(exc, "connection_invalidated", False) or not _connected():
                    raise
                log.warning("batch %s: request %s met %s; queued again on its own", batch_job_id, request_id,
                            type(exc).__name__)
                if record_id is not None:
                    execution.close_record(record_id, LOST, system_notes.note(_l(
                        "A timeout in its batch; it was queued again on its own.")))
                outcome["requeued"].append(request_id)
                continue
            except Exception as exc:  # this subject alone: its savepoint is rolled back, the others go on
                error = execution.safe_error(exc)
                log.warning("batch %s: request %s failed (%s)", batch_job_id, request_id, type(exc).__name__,
                            exc_info=not isinstance(exc, execution.ExecutionError))
                if record_id is not None:
                    execution.job_failed(record_id, error, final=True, commit=False)
                execution.fail_in_transaction(request_id, error, job_id=record_id)
                outcome["failed"].append(request_id)
                continue
            if summary["noop"]:
                if record_id is not None:
                    execution.finish_record(record_id)
                outcome["noop"].append(request_id)
            else:
                summaries.append(summary)
                outcome["completed"].append(request_id)
        db.session.commit()
        check_all(summaries, today, batch_job_id)
        db.session.commit()
    for request_id in outcome["requeued"]:
        _queue_alone(request_id, records.get(request_id))
    return outcome


def check_all(summaries, today, batch_job_id=None):
    """Each committed subject's check of its own erasure (policy 5.3), with one search for the whole batch.

    Should that search fail (a statement timeout), each subject is checked on its own in a savepoint: one that fails
    is logged and leaves its certificate without a verification, not the others' checks undone."""
    for summary in summaries:
        erasure.remove_files(summary)
    subjects = [(summary["request_id"], summary["client_id"], summary["_identifiers"]) for summary in summaries]
    if not subjects:
        return
    open_for_savepoints()
    try:
        with db.session.begin_nested():
            erasure_check.verify_many(subjects, today, commit=False)
        return
    except BaseTimeoutException:
        raise
    except Exception as exc:
        log.warning("batch %s: the batch's self-check failed (%s); each subject is checked on its own", batch_job_id,
                    type(exc).__name__)
    for request_id, client_id, identifiers in subjects:
        try:
            with db.session.begin_nested():
                erasure_check.verify(request_id, client_id, identifiers, today, commit=False)
        except BaseTimeoutException:
            raise
        except Exception as exc:
            log.error("batch %s: request %s: the erasure's self-check failed (%s)", batch_job_id, request_id,
                      type(exc).__name__, exc_info=True)


def run_failed(batch_job_id, error, final, timed_out=False):
    """The whole batch went back (nothing of its erasures committed): say so on each open member.

    Timed out: each open member is queued again on its own (the batch would only time out again). Otherwise each
    is retrying, or on the last attempt failed (only while the request is still that member's)."""
    records = members(batch_job_id, open_only=True)
    for request_id, record in records.items():
        if timed_out:
            execution.close_record(record.id, LOST, BATCH_TIMED_OUT)
        else:
            execution.job_failed(record.id, error, final, commit=False)
            if final:
                execution.fail_in_transaction(request_id, error, job_id=record.id)
    db.session.commit()
    if timed_out:
        for request_id, record in records.items():
            _queue_alone(request_id, record.id)


def _queue_alone(request_id, record_id):
    """Queue one member of a batch on its own job; if even that fails, reconcile queues it later."""
    try:
        jobqueue.enqueue_request_job(request_id, replacing=record_id)
    except Exception as exc:
        db.session.rollback()
        log.warning("request %s not queued again on its own (%s); reconcile will", request_id, type(exc).__name__)


def _connected():
    """After a transient error rolled a subject's savepoint back: can the batch's transaction go on?"""
    try:
        db.session.execute(select(1))
        return True
    except SQLAlchemyError:
        return False
