"""Where jobs go: RQ on Redis in production, an in-process worker in embedded mode (no REDIS_URL).

Jobs are enqueued by dotted name, so the web process never imports worker code, and with ids only:
no personal data ever sits in Redis. Queue name, timeout and retry policy are set here, not at call sites.
Every request job gets a JobRecord row *before* it is pushed, so the database knows about it even if the push
fails or Redis later loses it; `services.execution.reconcile` then queues it again.
"""
import logging
import re
import threading
import uuid
from contextlib import contextmanager

from flask import current_app
from flask_babel import lazy_gettext as _l
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import update

from .. import system_notes
from ..extensions import db
from ..models.jobs import OPEN_JOB_STATUSES, JobRecord
from ..models.requests import ACCESS, CONSENT_WITHDRAWAL, ERASURE, PrivacyRequest
from ..models.systems import BACKOFFICE_FIRST

log = logging.getLogger("backoffice.jobs")

JOB_FOR_TYPE = {
    ERASURE: "backoffice.jobs.erasure.erase_client",
    CONSENT_WITHDRAWAL: "backoffice.jobs.erasure.erase_client",
    ACCESS: "backoffice.jobs.export.build_export",
}
KIND_FOR_TYPE = {ERASURE: "erasure", CONSENT_WITHDRAWAL: "erasure", ACCESS: "export"}
# Rectification and blocking are carried out by the staff step in the back-office; once every other system is
# done, this job completes the request (services/fanout, BACKOFFICE_FIRST).
COMPLETION_JOB = "backoffice.jobs.systems.complete_after_systems"
COMPLETION_KIND = "completion"
# Bulk approval (issue 16): the erasures it approves are carried out by one job per batch of this many subjects,
# each in its own savepoint (services/erasure_batches.erase_batch), so a batch shares one commit and one chain append.
ERASURE_BATCH_JOB = "backoffice.jobs.erasure.erase_batch"
ERASURE_TYPES = frozenset({ERASURE, CONSENT_WITHDRAWAL})
_ANY = object()
_batch = threading.local()
# Jobs that read a whole uploaded file (up to MAX_UPLOAD_MB) get FILE_JOB_TIMEOUT_SECONDS instead of JOB_TIMEOUT.
FILE_JOB_KINDS = frozenset({"optout_import", "scrub"})
# Transient failures are retried this many times (intervals from JOB_RETRY_INTERVALS); others fail at once.
RETRY_MAX = 3
# How long RQ keeps a failed request job (for the Jobs view and post-mortems), and a periodic job's result/failure.
FAILURE_TTL_SECONDS = 30 * 24 * 3600
PERIODIC_RESULT_TTL_SECONDS = 3600
PERIODIC_FAILURE_TTL_SECONDS = 7 * 24 * 3600


def job_timeout(config, kind=None):
    """Seconds before RQ stops a job of this kind: the one place job timeouts are decided."""
    return config["FILE_JOB_TIMEOUT_SECONDS"] if kind in FILE_JOB_KINDS else config["JOB_TIMEOUT_SECONDS"]


def request_job_options(config, kind=None):
    """RQ enqueue options for a job: its kind's timeout, the retry policy, how long a failure is kept."""
    return dict(job_timeout=job_timeout(config, kind),
                retry=Retry(max=RETRY_MAX, interval=list(config["JOB_RETRY_INTERVALS"])),
                failure_ttl=FAILURE_TTL_SECONDS)


def periodic_job_options(config):
    """RQ enqueue options for a periodic job (jobs/schedule.py): the same timeout, no retry (the next tick is one)."""
    return dict(job_timeout=config["JOB_TIMEOUT_SECONDS"], result_ttl=PERIODIC_RESULT_TTL_SECONDS,
                failure_ttl=PERIODIC_FAILURE_TTL_SECONDS)


def job_for(request_type):
    return JOB_FOR_TYPE.get(request_type)


def redis_connection(app=None):
    """One Redis client per app (it pools its own connections)."""
    app = app or current_app._get_current_object()
    connection = app.extensions.get("backoffice_redis")
    if connection is None:
        connection = Redis.from_url(app.config["REDIS_URL"])
        app.extensions["backoffice_redis"] = connection
    return connection


def rq_queue(app=None):
    app = app or current_app._get_current_object()
    return Queue(app.config["RQ_QUEUE"], connection=redis_connection(app))


def embedded_worker():
    worker = current_app.extensions.get("embedded_worker")
    if worker is None:
        raise RuntimeError("no REDIS_URL and no embedded worker: start one with `flask --app wsgi demo`")
    return worker


def _push(func_path, ids, job_id, kind=None):
    if current_app.config.get("REDIS_URL"):
        rq_queue().enqueue(
            func_path, *ids, job_id=job_id, description=f"{func_path.rsplit('.', 1)[-1]}({', '.join(map(str, ids))})",
            **request_job_options(current_app.config, kind),
        )
    else:
        embedded_worker().submit(func_path, ids, job_id)


def _check_ids(ids):
    if any(not isinstance(value, int) or isinstance(value, bool) for value in ids):
        raise TypeError("jobs take ids only")


def _note_unpushed(records, exc):
    log.warning("job(s) %s not pushed: %s; reconcile will queue them", [r.id for r in records], type(exc).__name__)
    for record in records:
        record.error = system_notes.note(_l("The job queue could not be reached (%(error)s); the job will be queued "
                                            "again automatically."), error=type(exc).__name__)
    db.session.commit()


def enqueue(func_path, *ids, job_id=None, kind=None, request_id=None):
    """Queue `func_path(*ids)`; returns the job id. Arguments must be ids (ints), never personal data.

    With `kind`, a JobRecord is committed first. If Redis cannot be reached the record keeps the reason and the
    caller still gets the job id: reconcile pushes it later, so an approval never fails because of the queue.
    Inside `erasure_batches()`, an erasure's job joins the open batch instead of being pushed on its own.
    """
    _check_ids(ids)
    job_id = job_id or uuid.uuid4().hex
    batch = getattr(_batch, "open", None)
    if batch is not None and func_path == JOB_FOR_TYPE[ERASURE] and request_id is not None:
        return batch.add(job_id, request_id)
    record = None
    if kind is not None:
        record = JobRecord(id=job_id, kind=kind, func=func_path, request_id=request_id)
        db.session.add(record)
        db.session.commit()
    try:
        _push(func_path, ids, job_id, kind)
    except Exception as exc:
        if record is None or not isinstance(exc, RedisError):
            raise
        _note_unpushed([record], exc)
    return job_id


class _ErasureBatches:
    """The erasure jobs one bulk approval queues, pushed as jobs of `size` subjects each (ids only)."""

    def __init__(self, size):
        self.size = max(1, int(size))
        self.members = []  # [(request id, its JobRecord)] not pushed yet
        self.unpushed = set()  # request ids whose batch the queue did not take (reconcile queues them later)
        self.error = None  # the class name of why not

    def add(self, job_id, request_id):
        """Record the request's own job (committed now, like any job record); its batch is pushed later."""
        if not self.members:
            self.batch_id = uuid.uuid4().hex
        record = JobRecord(id=job_id, kind="erasure", func=ERASURE_BATCH_JOB, request_id=request_id,
                           batch_job_id=self.batch_id)
        db.session.add(record)
        db.session.commit()
        self.members.append((request_id, record))
        if len(self.members) >= self.size:
            self.push()
        return job_id

    def push(self):
        members, self.members = self.members, []
        if not members:
            return
        request_ids = tuple(sorted(request_id for request_id, _record in members))  # one lock order for all
        try:
            _push(ERASURE_BATCH_JOB, request_ids, members[0][1].batch_job_id, "erasure")
        except Exception as exc:  # Redis down, no worker: the approvals stand; reconcile queues each one later
            _note_unpushed([record for _request_id, record in members], exc)
            self.unpushed.update(request_ids)
            self.error = type(exc).__name__


@contextmanager
def erasure_batches(size=None):
    """Within the block, approved erasures are queued in batches (bulk approval; issue 16), not a job each.

    Each subject keeps its own job record and is erased in its own savepoint: one subject's failure fails it alone;
    a batch the queue loses is found by reconcile like any job (its members are queued again one by one).
    """
    if getattr(_batch, "open", None) is not None:
        yield _batch.open
        return
    batches = _ErasureBatches(size or current_app.config["ERASURE_BATCH_SIZE"])
    _batch.open = batches
    try:
        yield batches
    finally:
        _batch.open = None
        batches.push()


class QueueUnavailable(Exception):
    """Redis could not be reached (a job without a JobRecord cannot wait for reconcile)."""


_TOKEN = re.compile(r"[0-9a-f]{32}")


def enqueue_token_job(func_path, token, kind="scrub"):
    """Queue `func_path(token)` for work on an uploaded file named by its random id (hex; never personal data).

    No JobRecord: the file's own state (e.g. services/scrub_runs.py) is the record. Raises QueueUnavailable.
    """
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise TypeError("file jobs take a random upload id only")
    job_id = uuid.uuid4().hex
    try:
        _push(func_path, (token,), job_id, kind)
    except RedisError as exc:
        log.warning("file job %s not pushed: %s", job_id, type(exc).__name__)
        raise QueueUnavailable() from None
    return job_id


def enqueue_request_job(request_id, replacing=_ANY):
    """Queue the job that carries out an approved request (erasure 5.2/5.3, export 5.4), or completes one the
    back-office applied first (rectification, blocking); store its id.

    `replacing`: queue only if the request's job id is still this one (None: no job yet), so two callers that
    both saw every system settled queue one job between them; the loser gets None.
    """
    privacy_request = db.session.get(PrivacyRequest, request_id)
    if privacy_request is None:
        return None
    func_path = job_for(privacy_request.type) or (COMPLETION_JOB if privacy_request.type in BACKOFFICE_FIRST
                                                  else None)
    if func_path is None:
        return None
    job_id = uuid.uuid4().hex
    # A plain UPDATE: job_id is bookkeeping, and bumping the request's version here would make a concurrent
    # lifecycle change (or a reconcile) fail with a stale-data error.
    claim = update(PrivacyRequest).where(PrivacyRequest.id == request_id)
    if replacing is not _ANY:
        claim = claim.where(PrivacyRequest.job_id.is_(None) if replacing is None
                            else PrivacyRequest.job_id == replacing)
    if not db.session.execute(claim.values(job_id=job_id).execution_options(synchronize_session=False)).rowcount:
        db.session.rollback()
        return None
    db.session.expire(privacy_request, ["job_id"])
    return enqueue(func_path, privacy_request.id, job_id=job_id,
                   kind=KIND_FOR_TYPE.get(privacy_request.type, COMPLETION_KIND), request_id=privacy_request.id)


def job_state(job_id):
    """What the queue says about a job: queued/scheduled/deferred/started/finished/failed/..., or None if unknown."""
    if current_app.config.get("REDIS_URL"):
        try:
            job = Job.fetch(job_id, connection=redis_connection())
        except NoSuchJobError:
            return None
        status = job.get_status(refresh=False)
        return None if status is None else str(getattr(status, "value", status))
    worker = current_app.extensions.get("embedded_worker")
    return worker.state(job_id) if worker is not None else None


def job_states(job_ids):
    """{job id: state or None} for many jobs in one Redis round trip (reconcile looks at every open request)."""
    job_ids = list(job_ids)
    if not current_app.config.get("REDIS_URL"):
        return {job_id: job_state(job_id) for job_id in job_ids}
    pipeline = redis_connection().pipeline(transaction=False)
    for job_id in job_ids:
        pipeline.hget(Job.key_for(job_id), "status")
    return {job_id: (value.decode() if isinstance(value, bytes) else value)
            for job_id, value in zip(job_ids, pipeline.execute())}


LIVE_STATES = {"queued", "scheduled", "deferred", "started"}


def queue_job_id(job_id):
    """The id the queue knows a request's job by: its batch's job when it was queued in a batch."""
    record = db.session.get(JobRecord, job_id) if job_id else None
    return record.queue_job_id if record is not None else job_id


def job_is_live(job_id):
    """Is this job waiting or running in the queue now? (False when unknown, lost, finished or Redis is down.)

    A member of a batch whose own record is closed is not live, though its batch may still run for the others."""
    if not job_id:
        return False
    record = db.session.get(JobRecord, job_id)
    if record is not None and record.batch_job_id and record.status not in OPEN_JOB_STATUSES:
        return False
    try:
        return job_state(queue_job_id(job_id)) in LIVE_STATES
    except Exception as exc:  # the queue is unreachable: treat the job as not live, so a manager may requeue
        log.warning("job %s: queue state unknown (%s)", job_id, type(exc).__name__)
        return False


def worker_alive(job_id):
    """Does the worker that started this job still exist? (A killed worker's key lingers until its TTL.)"""
    if not current_app.config.get("REDIS_URL"):
        worker = current_app.extensions.get("embedded_worker")
        return worker is not None and worker.is_alive()
    connection = redis_connection()
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if not job.worker_name:
        return True
    # A worker's key lapses LIVENESS_SECONDS after its last heartbeat (jobs/rq_worker.py); a worker whose death
    # was registered (by itself, or by its supervisor when it crashed) keeps its key a minute longer, marked.
    key = Worker.redis_worker_namespace_prefix + job.worker_name
    exists, death = connection.pipeline().exists(key).hget(key, "death").execute()
    return bool(exists) and death is None


def registry_counts():
    """Queue length and RQ registry sizes for the Jobs view (empty in embedded mode)."""
    if not current_app.config.get("REDIS_URL"):
        worker = current_app.extensions.get("embedded_worker")
        return {"queued": worker.pending() if worker else 0}
    queue = rq_queue()
    return {
        "queued": queue.count,
        "started": queue.started_job_registry.count,
        "scheduled": queue.scheduled_job_registry.count,
        "failed": queue.failed_job_registry.count,
        "finished": queue.finished_job_registry.count,
    }
