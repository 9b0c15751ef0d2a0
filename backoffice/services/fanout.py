"""Fan-out: a request reaches every system of the data map, one job per system (policy 5.2-5.4).

Order, and why: for erasure, consent withdrawal and access the other systems (SQL, webhook, manual) go first, in
parallel; the back-office database goes last, once every one of them is settled (done, or a manager recorded why
it cannot be, with a legal reference). The back-office keeps the client's identities until then, so a failed
system can be retried alone days later and still find the client's rows. The back-office job then erases (or
exports) and completes the request, listing every system's result on the certificate. For an access request the
SQL systems are read by the export job itself into the package under each system's name.

Rectification, blocking and unblocking go the other way (`BACKOFFICE_FIRST`): the back-office applies them in the
step that completes them there (`hand_over`, its task settled at once), then the other systems follow in
parallel and, once all are settled, a small job completes the request (execution.complete_after_systems). What
each system is given per type: services/propagation.

Everything here is keyed by ids; a task's result holds counts and reasons only.
"""
import json
import logging
import uuid

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..extensions import db
from ..models.base import utcnow
from ..models.clients import Client
from ..models.requests import ACCESS, EXECUTING, PrivacyRequest
from ..models.systems import (
    BACKOFFICE, BACKOFFICE_FIRST, CANNOT, DONE, FAILED, MANUAL, PENDING, RUNNING, SETTLED, SQL, WAITING, WEBHOOK,
    DataSystem, SystemTask,
)
from ..models.staff import MANAGER
from . import audit, datamap, jobqueue, propagation, sql_connector, webhook

log = logging.getLogger("backoffice.jobs")
RUN_TASK_JOB = "backoffice.jobs.systems.run_system_task"


class TaskError(Exception):
    """A staff action on a task is not possible; the message is translated and shown on the page."""


def tasks_of(request_id):
    return db.session.execute(select(SystemTask).where(SystemTask.request_id == request_id)
                              .order_by(SystemTask.system_id)).scalars().all()


def plan(privacy_request):
    """A task per enabled system taking part in this request type (system #1 always); idempotent."""
    datamap.ensure_backoffice_system()
    have = {task.system_id for task in tasks_of(privacy_request.id)}
    for system in datamap.systems_for(privacy_request.type):
        if system.id not in have:
            db.session.add(SystemTask(request_id=privacy_request.id, system_id=system.id,
                                      status=WAITING if system.kind == MANUAL else PENDING))
    db.session.flush()
    return tasks_of(privacy_request.id)


def other_systems_take_part(request_type):
    return any(system.kind != BACKOFFICE for system in datamap.systems_for(request_type))


def hands_over(privacy_request):
    """Is this a rectification / blocking / unblocking that other systems take part in (so it waits for them)?"""
    return (privacy_request.type in BACKOFFICE_FIRST and privacy_request.client_id is not None
            and other_systems_take_part(privacy_request.type))


def hand_over(privacy_request, result):
    """In the back-office step's own transaction: a task per system, the back-office one done with `result`
    (field names or the client's status, never values). `dispatch` then queues the others after the commit."""
    plan(privacy_request)
    settle_in_transaction(privacy_request.id, (BACKOFFICE,), lambda task: result)


def _gates(task, request_type):
    """Must this task be settled before the back-office job runs? (SQL reads for access happen inside it.)"""
    if task.system.kind == BACKOFFICE:
        return False
    return not (request_type == ACCESS and task.system.kind == SQL)


def waiting_on(request_id):
    """Names of the systems the request still waits for, for the request page ("waiting on: ...")."""
    return [task.system.name for task in tasks_of(request_id) if not task.settled]


def blocking_tasks(request_id, request_type):
    return [task for task in tasks_of(request_id) if _gates(task, request_type) and not task.settled]


def only_waiting_for_people(request_id):
    """True when no job could help: every unsettled system waits for a callback, an owner's confirmation, or
    (failed for good) a manager's retry or "cannot" record. Reconcile leaves such a request alone."""
    privacy_request = db.session.get(PrivacyRequest, request_id)
    open_tasks = [task for task in tasks_of(request_id) if not task.settled]
    gating = [task for task in open_tasks if _gates(task, privacy_request.type)]
    return bool(gating) and all(task.status in (WAITING, FAILED) for task in gating)


def dispatch(request_id, requeue=False, planned=False):
    """Queue what can run now: each pending/failed external system's job, else the back-office job. Job ids out.

    Safe to call again at any time (approval, a settled task, reconcile, a retry): a task whose job is live
    or that waits for a person or a callback is left alone; the back-office job is queued at most once per run.
    `requeue`: reconcile found the back-office job dead, so it is queued again whatever the queue still says.
    `planned`: the tasks exist already (a task just settled), so the data map is not read again.
    """
    privacy_request = db.session.get(PrivacyRequest, request_id)
    if planned or privacy_request.type in BACKOFFICE_FIRST:  # those are planned by `hand_over` only
        tasks = tasks_of(request_id)
    else:
        tasks = plan(privacy_request)
        db.session.commit()
    queued = []
    gating = [task for task in tasks if _gates(task, privacy_request.type)]
    for task in gating:
        if task.status in (PENDING, RUNNING) and task.system.kind in (SQL, WEBHOOK) \
                and not jobqueue.job_is_live(task.job_id):
            queued.append(_enqueue_task(task))
    if all(task.settled for task in gating):
        if privacy_request.type in BACKOFFICE_FIRST:
            queued.extend(_release_completion(privacy_request))
        else:
            queued.extend(_release_backoffice(privacy_request, tasks, requeue))
    return queued


def _release_completion(privacy_request):
    """Every other system is settled: queue the job that completes the request, once (a claim on its job id)."""
    if privacy_request.status != EXECUTING or jobqueue.job_is_live(privacy_request.job_id):
        return []
    job_id = jobqueue.enqueue_request_job(privacy_request.id, replacing=privacy_request.job_id)
    return [job_id] if job_id else []


def _enqueue_task(task):
    job_id = uuid.uuid4().hex
    db.session.execute(update(SystemTask).where(SystemTask.id == task.id).values(job_id=job_id)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return jobqueue.enqueue(RUN_TASK_JOB, task.id, job_id=job_id, kind="system", request_id=task.request_id)


def _release_backoffice(privacy_request, tasks, requeue=False):
    backoffice = next((task for task in tasks if task.system.kind == BACKOFFICE), None)
    if backoffice is not None and backoffice.settled:
        return []
    if not requeue and privacy_request.job_id and jobqueue.job_is_live(privacy_request.job_id):
        return []
    if backoffice is not None and not requeue:
        # Two systems settling at once both get here: the conditional UPDATE lets exactly one queue the job.
        claimed = db.session.execute(
            update(SystemTask).where(SystemTask.id == backoffice.id, SystemTask.status == PENDING)
            .values(status=RUNNING, started_at=utcnow()).execution_options(synchronize_session=False)).rowcount
        if not claimed:
            db.session.rollback()
            if not _stale(backoffice):
                return []
        # The claim commits together with the job's record (jobqueue.enqueue).
    job_id = jobqueue.enqueue_request_job(privacy_request.id)
    return [job_id] if job_id else []


def _stale(task):
    """A back-office task marked running whose job is gone (reconcile's case): it may be queued again."""
    db.session.refresh(task)
    request = db.session.get(PrivacyRequest, task.request_id)
    return task.status == RUNNING and not jobqueue.job_is_live(request.job_id)


def _client_of(task):
    request = db.session.get(PrivacyRequest, task.request_id)
    client = db.session.get(Client, request.client_id) if request and request.client_id else None
    return request, client


def run_task(task_id, job_id=None):
    """Carry out one system's part of a request (the system job). Raises on failure; the job wrapper records it."""
    task = db.session.get(SystemTask, task_id)
    if task is None or task.settled or task.status == WAITING:
        return {"task_id": task_id, "noop": True}
    request, client = _client_of(task)
    task.status, task.started_at, task.attempts = RUNNING, utcnow(), (task.attempts or 0) + 1
    task.job_id = job_id or task.job_id
    db.session.commit()  # with the job record's "started" (jobs/systems.py)
    if client is None:
        raise TaskFailed(_l("The request is not linked to a client."), transient=False)
    system = task.system
    identifiers = propagation.identifiers_for(system, client, request)
    try:
        if system.kind == SQL:
            status, result = DONE, propagation.sql_part(system, request, identifiers)
        elif system.kind == WEBHOOK:
            extra = propagation.webhook_part(system, request)
            if extra is None:  # nothing this system holds was changed: it is told nothing
                status, result = DONE, {"changed": 0}
            else:
                outcome, counts = webhook.call(system, {**_webhook_payload(task, request, identifiers), **extra})
                status, result = (DONE if outcome == webhook.RESULT_DONE else WAITING), counts
        else:
            return {"task_id": task_id, "noop": True}
    except sql_connector.ConnectorError as exc:
        raise TaskFailed(exc.args[0] if exc.args else str(exc), transient=False) from None
    except webhook.WebhookError as exc:
        raise TaskFailed(exc.message, transient=exc.transient) from None
    finish(task, status, result=result)
    return {"task_id": task_id, "status": status}


class TaskFailed(Exception):
    """A system's part failed; the message holds no personal data. `transient`: worth another attempt."""

    def __init__(self, message, transient=True):
        super().__init__(message)
        self.message = message  # a lazy message: stored as a note (system_notes), shown in the reader's language
        self.transient = transient


def _webhook_payload(task, request, identifiers):
    base = current_app.config["PUBLIC_URL"]
    return {"request_id": request.id, "task_id": task.id, "type": request.type, "system_id": task.system_id,
            "identifiers": identifiers, "callback_url": f"{base}/api/v1/systems/{task.system_id}/confirm"}


def finish(task, status, result=None, by=None, comment=None, legal_reference=None):
    """Settle (or park) a task, audit it, commit, then queue whatever may run next."""
    task.status = status
    task.error = None
    task.result = result if result is not None else task.result
    if status in SETTLED:
        task.finished_at = utcnow()
    if by is not None:
        task.confirmed_by_id = by.id
    if comment is not None:
        task.comment = comment
    if legal_reference is not None:
        task.legal_reference = legal_reference
    audit.record(f"system_task.{status}", object_type="system_task", object_id=task.id,
                 request_id=task.request_id, details={"system_id": task.system_id, "status": status},
                 actor=by)
    db.session.commit()
    if status in SETTLED:
        dispatch(task.request_id, planned=True)
    return task


def record_failure(task_id, error, final):
    """The job wrapper's bookkeeping: a failed attempt; the last one marks the task failed (request stays open)."""
    db.session.rollback()
    task = db.session.get(SystemTask, task_id)
    if task is None or task.settled:
        return
    task.error = error
    task.status = FAILED if final else PENDING
    audit.record("system_task.failed" if final else "system_task.attempt_failed", object_type="system_task",
                 object_id=task.id, request_id=task.request_id, details={"system_id": task.system_id,
                                                                         "final": final})
    db.session.commit()


def _staff_task(task_id, request_id):
    task = db.session.get(SystemTask, task_id)
    if task is None or task.request_id != request_id:
        raise TaskError(_l("This system task does not exist."))
    return task


def confirm_manual(task_id, request_id, by, comment):
    """The system's owner confirms the manual system was handled, with a comment (required)."""
    task = _staff_task(task_id, request_id)
    comment = (comment or "").strip()
    if not comment or len(comment) > 1000:
        raise TaskError(_l("Say what was done (at most %(n)s characters).", n=1000))
    if task.system.kind != MANUAL or task.status != WAITING:
        raise TaskError(_l("This task is not waiting for a confirmation."))
    return finish(task, DONE, result={"confirmed": True}, by=by, comment=comment)


def record_cannot(task_id, request_id, by, reason, legal_reference):
    """A manager records why a system cannot carry out the request, with the legal reference (both required)."""
    task = _staff_task(task_id, request_id)
    if MANAGER not in by.role_set:
        raise TaskError(_l("Only a manager may record that a system cannot carry out a request."))
    reason, legal_reference = (reason or "").strip(), (legal_reference or "").strip()
    if not reason or not legal_reference or len(reason) > 1000 or len(legal_reference) > 300:
        raise TaskError(_l("Give the reason and the legal reference."))
    if task.settled or task.system.kind == BACKOFFICE:
        raise TaskError(_l("This task is already settled."))
    return finish(task, CANNOT, by=by, comment=reason, legal_reference=legal_reference)


def retry_task(task_id, request_id, by):
    """A manager sends one failed system back to its queue; the other systems are not touched."""
    task = _staff_task(task_id, request_id)
    if MANAGER not in by.role_set:
        raise TaskError(_l("Only a manager may retry a system."))
    if task.status != FAILED:
        raise TaskError(_l("Only a failed system can be retried."))
    task.status, task.error, task.job_id = PENDING, None, None
    audit.record("system_task.retry", object_type="system_task", object_id=task.id, request_id=task.request_id,
                 details={"system_id": task.system_id}, actor=by)
    db.session.commit()
    return dispatch(task.request_id)


class CallbackRefused(Exception):
    """401: unknown system, no secret configured, bad signature or a timestamp outside the replay window."""


class CallbackInvalid(Exception):
    """400: signed correctly but not a confirmation of one of this system's tasks."""


def receive_callback(system_id, timestamp, signature, body):
    """`POST /api/v1/systems/<id>/confirm`: verify the signature first (nothing changes otherwise), then settle."""
    system = db.session.get(DataSystem, system_id)
    if system is None or system.kind != WEBHOOK:
        raise CallbackRefused()
    try:
        secret = webhook.secret_of(system)
    except webhook.WebhookError:
        raise CallbackRefused() from None
    if not webhook.signature_valid(secret, timestamp, signature, body):
        log.warning("system %s: callback refused (signature or timestamp)", system_id)
        raise CallbackRefused()
    try:
        data = json.loads(body)
    except ValueError:
        raise CallbackInvalid() from None
    task = confirm_from_callback(system, data) if isinstance(data, dict) else None
    if task is None:
        raise CallbackInvalid()
    return task


def task_for_job(job_id):
    """The system task a `system` job carried out (Jobs view), or None."""
    if not job_id:
        return None
    return db.session.execute(select(SystemTask).where(SystemTask.job_id == job_id[:64])).scalar_one_or_none()


def retry_job(job_id, by):
    """The Jobs view's retry of a failed system job: that one system is queued again (retry_task)."""
    task = task_for_job(job_id)
    if task is None:
        raise TaskError(_l("This system task does not exist."))
    return retry_task(task.id, task.request_id, by)


def confirm_from_callback(system, body):
    """A webhook system's signed callback (already verified): settle its task. Returns the task or None."""
    task_id, status = body.get("task_id"), body.get("status")
    if not isinstance(task_id, int) or isinstance(task_id, bool) or status not in (webhook.RESULT_DONE,
                                                                                    webhook.RESULT_FAILED):
        return None
    task = db.session.get(SystemTask, task_id)
    if task is None or task.system_id != system.id:
        return None
    if task.settled:
        return task  # a repeated callback changes nothing
    if status == webhook.RESULT_DONE:
        return finish(task, DONE, result=webhook.counts_only(body.get("result")))
    record_failure(task.id, "the system reported that it could not carry out the request", True)
    return task


def settle_in_transaction(request_id, kinds, result_for):
    """Mark the tasks of these system kinds done inside the caller's transaction (the back-office job's own).

    Returns the request's tasks as they now stand (the certificate is written from them, without reading again)."""
    now = utcnow()
    tasks = tasks_of(request_id)
    for task in tasks:
        if task.system.kind in kinds and not task.settled:
            task.status, task.finished_at, task.error = DONE, now, None
            task.result = result_for(task)
    db.session.flush()
    return tasks


def exceptions_for_certificate(request_id, tasks=None):
    """Systems a manager recorded as unable to carry out the request: exceptions, each with its legal reference.

    `tasks`: the request's tasks if the caller holds them already."""
    return [{"record_type": f"system:{task.system.name}", "reason": "system_cannot", "count": 1,
             "legal_reference": task.legal_reference}
            for task in (tasks_of(request_id) if tasks is None else tasks) if task.status == CANNOT]


def results_for_certificate(request_id, tasks=None):
    """Per-system results for the certificate: counts, kept columns with reasons, who confirmed and when."""
    rows = []
    for task in tasks_of(request_id) if tasks is None else tasks:
        rows.append({"system_id": task.system_id, "system": task.system.name, "kind": task.system.kind,
                     "country": task.system.country, "status": task.status, "result": task.result or {},
                     "legal_reference": task.legal_reference, "confirmed_by_staff_id": task.confirmed_by_id,
                     "finished_at": task.finished_at.isoformat() if task.finished_at else None})
    return rows
