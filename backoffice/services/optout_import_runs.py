"""The opt-out CSV import as a background job with progress (policy 3.2.2; issue 13): no web request imports.

`start` (the web request) saves the upload under instance/optout-imports/ (services/uploads.py) and checks what is
quick to check — UTF-8 text, every line within CSV_MAX_LINE_BYTES, a header within CSV_MAX_COLUMNS naming an e-mail
or phone column — then commits an OptOutImport row (counts only) with its JobRecord and queues
`backoffice.jobs.optout_import.import_opt_outs(import_id)`: the row's id is the job's only argument.

The job keeps the import all-or-nothing:
1. it checks every row first (optout_import.check), writing nothing but its progress; one bad row ends the run
   *refused*: nothing imported, the problems listed by row number;
2. only a file that passed is applied, in batches of BATCH_SIZE rows; each batch is one short transaction that also
   advances `rows_done`, so SQLite's write lock is never held for long and colleagues' pages keep working;
3. an interrupted run (worker killed, database gone) is run again — by RQ's retry, or by `maintain`, which
   re-queues a run whose job was lost — and goes on after `rows_done`: a batch and its count commit together, so
   no row is applied twice or skipped, and an import that passed its check ends complete.
A run that fails for good half-way (a bug) keeps the batches it committed — listing an address is the safe
direction of policy 3.2.2 — and says so; importing the same file again merges instead of duplicating.
The file is deleted when the run ends; `maintain` (periodic) also ends runs that show no progress for
IMPORT_FILE_TTL_MINUTES and deletes their files.
"""
import datetime as dt
import logging
import time
import uuid

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models.base import utcnow
from ..models.jobs import JobRecord
from ..models.optouts import (IMPORT_CHECKING, IMPORT_DONE, IMPORT_FAILED, IMPORT_IMPORTING, IMPORT_OPEN_STATUSES,
                              IMPORT_QUEUED, IMPORT_REFUSED, OptOutImport)
from ..models.staff import StaffUser
from . import audit, execution, jobqueue, optout_import
from .optouts import OptOutError
from .uploads import UploadFolder, open_text

log = logging.getLogger("backoffice.jobs")

IMPORT_JOB = "backoffice.jobs.optout_import.import_opt_outs"
JOB_KIND = "optout_import"
BATCH_SIZE = 500
PROGRESS_EVERY_SECONDS = 1.0
# Why a run failed (labels.IMPORT_FAILURES says it to staff).
FILE_MISSING, EXPIRED, ERROR = "file_missing", "expired", "error"

IMPORTS = UploadFolder("optout-imports", OptOutError,
                       _l("This import's file is no longer on the server. Upload the file again."))
FILE = ".csv"


def file_path(run):
    return IMPORTS.path(run.upload_id, FILE)


def get(import_id):
    """The run with this id, or None (ids outside what the database stores included)."""
    if not isinstance(import_id, int) or not 0 < import_id < 2 ** 31:
        return None
    return db.session.get(OptOutImport, import_id)


def for_job(job_id):
    """The run a JobRecord works on (the Jobs view links to its page), or None."""
    return db.session.execute(select(OptOutImport).where(OptOutImport.job_id == job_id)).scalar_one_or_none()


# --- the web request ---------------------------------------------------------------------------------------------

def start(file_storage, by):
    """Store and check the upload, commit its run and queue the job (policy 3.2.2); nothing is imported here.

    Raises OptOutError (translated, safe to show) for a file refused at once; nothing is kept then.
    """
    upload_id = IMPORTS.store(file_storage, FILE)
    path = IMPORTS.path(upload_id, FILE)
    try:
        optout_import.columns_of(IMPORTS.header(path))
        rows = IMPORTS.count_lines(path)
        if not rows:
            raise OptOutError(_("The file has no rows under its header."))
    except OptOutError:
        IMPORTS.delete(upload_id, (FILE,))
        raise
    run = OptOutImport(upload_id=upload_id, status=IMPORT_QUEUED, file_bytes=path.stat().st_size, rows_total=rows,
                       created_by_id=getattr(by, "id", None))
    db.session.add(run)
    db.session.flush()
    audit.record("optout.import_start", object_type="optout_import", object_id=run.id, actor=by,
                 details={"rows": rows, "bytes": run.file_bytes})
    _queue(run)
    return run


def _queue(run):
    """Commit the run (and whatever the caller recorded) with a new JobRecord, then push the job: its id only."""
    run.job_id = uuid.uuid4().hex
    jobqueue.enqueue(IMPORT_JOB, run.id, job_id=run.job_id, kind=JOB_KIND)


# --- the job -----------------------------------------------------------------------------------------------------

def execute(import_id, job_id=None):
    """The job: check every row, then import in batches with progress; the run ends done, refused or failed.

    Audited at the end with ids and counts only. A re-run of an ended run, or a job another one replaced, is a no-op.
    """
    run = db.session.get(OptOutImport, import_id)
    if run is None or not run.is_open or (job_id and run.job_id != job_id):
        db.session.rollback()
        return run
    if not file_path(run).exists():
        return _end_failed(run, FILE_MISSING)
    by = db.session.get(StaffUser, run.created_by_id) if run.created_by_id else None
    if run.status in (IMPORT_QUEUED, IMPORT_CHECKING):
        run.status = IMPORT_CHECKING
        run.started_at = run.started_at or utcnow()
        db.session.commit()
        try:
            rows = _check(run)
        except optout_import.ImportRefused as refused:
            return _end_refused(run, refused, by)
        run.rows_total, run.rows_checked, run.status = rows, rows, IMPORT_IMPORTING
        db.session.commit()
    if not _apply(run, by, job_id):
        return run  # another job took the run over
    run.status = IMPORT_DONE
    run.ended_at = utcnow()
    audit.record("optout.import", object_type="optout_import", object_id=run.id, actor=by,
                 details={"rows": run.rows_done, "created": run.added, "merged": run.merged})
    db.session.commit()
    IMPORTS.delete(run.upload_id, (FILE,))
    return run


def _check(run):
    path = file_path(run)
    last = {"at": time.monotonic()}

    def progress(rows):
        now = time.monotonic()
        if now - last["at"] >= PROGRESS_EVERY_SECONDS:
            last["at"] = now
            run.rows_checked = rows
            db.session.commit()  # also the run's heartbeat (maintain)

    with open_text(path) as lines:
        return optout_import.check(lines, IMPORTS.dialect(path), progress=progress)


def _apply(run, by, job_id):
    """Apply the checked rows after `rows_done`, a batch per transaction with its count; False if taken over."""
    path = file_path(run)
    with open_text(path) as lines:
        batch = []
        for row in optout_import.checked_rows(lines, IMPORTS.dialect(path), skip=run.rows_done):
            batch.append(row)
            if len(batch) == BATCH_SIZE:
                if not _apply_batch(run, batch, by, job_id):
                    return False
                batch = []
        if batch:
            return _apply_batch(run, batch, by, job_id)
    return True


def _apply_batch(run, batch, by, job_id):
    # The run's row is locked (PostgreSQL) and its owner checked in the batch's own transaction: a job replaced by
    # a re-queued one stops here instead of importing the same rows alongside it.
    locked = db.session.execute(select(OptOutImport).where(OptOutImport.id == run.id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one()
    if job_id and locked.job_id != job_id:
        db.session.rollback()
        return False
    counts = optout_import.apply_batch(batch, by)
    run.rows_done += len(batch)
    run.added += counts.created
    run.merged += counts.merged
    db.session.commit()
    execution.checkpoint("optout_import.batch")
    return True


def _end_refused(run, refused, by):
    run.status = IMPORT_REFUSED
    run.rows_checked = refused.rows
    run.rejected = refused.total
    run.problems = refused.problems
    run.ended_at = utcnow()
    audit.record("optout.import", object_type="optout_import", object_id=run.id, actor=by, outcome="failure",
                 details={"rows": refused.rows, "rejected": refused.total})
    db.session.commit()
    IMPORTS.delete(run.upload_id, (FILE,))
    return run


def _end_failed(run, failure):
    run.status = IMPORT_FAILED
    run.failure = failure
    run.ended_at = utcnow()
    audit.record("optout.import", object_type="optout_import", object_id=run.id, actor=run.created_by,
                 outcome="failure", details={"rows": run.rows_done, "failure": failure})
    db.session.commit()
    IMPORTS.delete(run.upload_id, (FILE,))
    return run


def mark_failed(import_id, error):
    """The job failed for good (its error text is on its JobRecord): end the run and delete its file."""
    db.session.rollback()
    run = db.session.get(OptOutImport, import_id)
    if run is not None and run.is_open:
        _end_failed(run, ERROR)


# --- periodic upkeep ---------------------------------------------------------------------------------------------

def maintain(now=None):
    """Re-queue runs whose job was lost; end runs with no progress for IMPORT_FILE_TTL_MINUTES; delete stray files.

    Returns the ids of the runs queued again. A run's `updated_at` is its heartbeat: it moves at least every
    PROGRESS_EVERY_SECONDS while the job checks and with every batch it imports.
    """
    now = now or utcnow()
    abandoned_before = now - dt.timedelta(minutes=current_app.config["IMPORT_FILE_TTL_MINUTES"])
    stale_before = now - dt.timedelta(seconds=current_app.config["JOB_STALE_SECONDS"])
    runs = db.session.execute(select(OptOutImport).where(OptOutImport.status.in_(IMPORT_OPEN_STATUSES))
                              .order_by(OptOutImport.id)).scalars().all()
    records = {record.id: record for record in db.session.execute(
        select(JobRecord).where(JobRecord.id.in_([run.job_id for run in runs if run.job_id]))).scalars()}
    states = jobqueue.job_states(records)
    requeued, keep = [], set()
    for run in runs:
        if run.updated_at < abandoned_before:
            log.info("optout import %s: no progress for the file's lifetime; ended", run.id)
            _end_failed(run, EXPIRED)
            continue
        keep.add(run.upload_id)
        record = records.get(run.job_id)
        if record is None or execution.job_is_live(record, now, stale_before, state=states.get(record.id),
                                                   heartbeat=run.updated_at):
            continue
        execution.mark_lost(record, now)
        audit.record("job.requeued", object_type="optout_import", object_id=run.id,
                     details={"lost_job_id": record.id})
        _queue(run)
        log.info("optout import %s re-queued as job %s (lost job %s)", run.id, run.job_id, record.id)
        requeued.append(run.id)
    # Files no open run holds: ended runs whose deletion failed, uploads refused or dropped half-way.
    IMPORTS.purge_older_than(execution.ENQUEUE_GRACE_SECONDS, keep=keep)
    return requeued
