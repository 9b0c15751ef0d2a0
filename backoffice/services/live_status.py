"""What a request's or a job's page shows while the job runs (issue 14): codes only, no personal data.

The request page, the Jobs view and an opt-out import's page poll these through small JSON endpoints (static/live_status.js). Connectors
(issue 11) report per-system progress by appending a callable to PROGRESS_SOURCES:
`source(job_record) -> [{"system": code, "done": int, "total": int}]`.
"""
from sqlalchemy import select

from ..extensions import db
from ..models.jobs import FAILED, FINISHED, LOST, OPEN_JOB_STATUSES, QUEUED, RETRYING, STARTED, JobRecord
from ..models.optouts import IMPORT_CHECKING, IMPORT_OPEN_STATUSES, IMPORT_QUEUED, IMPORT_REFUSED
from ..models.requests import APPROVED, COMPLETED, EXECUTING, FAILED as REQUEST_FAILED, PrivacyRequest

PROGRESS_SOURCES = []
# The job's step as the page names it.
STEP_OF_JOB = {QUEUED: "queued", STARTED: "running", RETRYING: "retrying", FINISHED: "done", FAILED: "failed",
               LOST: "lost"}
TERMINAL_STEPS = frozenset({"done", "failed"})


def latest_job(request_id):
    return db.session.execute(
        select(JobRecord).where(JobRecord.request_id == request_id)
        .order_by(JobRecord.enqueued_at.desc(), JobRecord.id.desc()).limit(1)
    ).scalar_one_or_none()


def progress(record):
    """Per-system progress of a job from every registered connector (empty until connectors exist)."""
    if record is None:
        return []
    rows = []
    for source in PROGRESS_SOURCES:
        rows.extend(source(record) or [])
    return rows


def request_step(req, record):
    """'queued' | 'running' | 'retrying' | 'lost' | 'done' | 'failed' | '' (no job) for a request's page."""
    if req.status == REQUEST_FAILED:
        return "failed"
    if req.status == COMPLETED and record is not None:
        return "done"
    if record is None:
        return "queued" if req.status == APPROVED else ""
    step = STEP_OF_JOB.get(record.status, "")
    if step == "done" and req.status in (APPROVED, EXECUTING):
        return "running"  # the job row finished but the request's commit is not visible yet
    return step


def is_live(req):
    """True while the page should keep polling: the request waits for or runs a job."""
    if req.status in (APPROVED, EXECUTING):
        return True
    record = latest_job(req.id) if req.job_id else None
    return record is not None and record.status in OPEN_JOB_STATUSES


def request_status(req):
    """{id, status, version, step, job_status, attempts, systems, live}: what the request page refreshes."""
    record = latest_job(req.id)
    step = request_step(req, record)
    return {"id": req.id, "status": req.status, "version": req.version, "step": step,
            "job_status": record.status if record else None, "attempts": record.attempts if record else 0,
            "systems": progress(record), "live": step not in TERMINAL_STEPS and is_live(req)}


def jobs_status(ids):
    """[{id, status, step, attempts, request_id, request_status}] for the Jobs view's rows (at most 200)."""
    ids = [str(i)[:64] for i in ids][:200]
    if not ids:
        return []
    rows = db.session.execute(
        select(JobRecord, PrivacyRequest.status).outerjoin(PrivacyRequest, PrivacyRequest.id == JobRecord.request_id)
        .where(JobRecord.id.in_(ids))
    ).all()
    return [{"id": record.id, "status": record.status, "step": STEP_OF_JOB.get(record.status, ""),
             "attempts": record.attempts, "request_id": record.request_id, "request_status": request_status_}
            for record, request_status_ in rows]


def import_status(run):
    """{id, status, step, phase_done, phase_total, percent, counts, live}: what an opt-out import's page refreshes.

    The step is the run's status; while it checks, the bar counts rows checked, then rows imported. Counts only.
    """
    total = run.rows_total or 0
    done = run.rows_checked if run.status in (IMPORT_QUEUED, IMPORT_CHECKING, IMPORT_REFUSED) else run.rows_done
    percent = int(100 * min(done, total) / total) if total else 0
    return {"id": run.id, "status": run.status, "step": run.status, "phase_done": done, "phase_total": total,
            "percent": percent, "added": run.added, "merged": run.merged, "rejected": run.rejected,
            "live": run.status in IMPORT_OPEN_STATUSES}
