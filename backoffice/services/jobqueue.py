"""Where jobs go: RQ on Redis in production, an in-process worker in embedded mode (no REDIS_URL).

Jobs are enqueued by dotted name, so the web process never imports worker code, and with ids only:
no personal data ever sits in Redis. Queue name, timeout and retry policy are set here, not at call sites.
"""
import uuid

from flask import current_app

from ..extensions import db
from ..models.requests import ACCESS, CONSENT_WITHDRAWAL, ERASURE, PrivacyRequest

JOB_FOR_TYPE = {
    ERASURE: "backoffice.jobs.erasure.erase_client",
    CONSENT_WITHDRAWAL: "backoffice.jobs.erasure.erase_client",
    ACCESS: "backoffice.jobs.export.build_export",
}


def job_for(request_type):
    return JOB_FOR_TYPE.get(request_type)


def enqueue(func_path, *ids, job_id=None):
    """Queue `func_path(*ids)`; returns the job id. Arguments must be ids (ints), never personal data."""
    if any(not isinstance(value, int) for value in ids):
        raise TypeError("jobs take ids only")
    job_id = job_id or uuid.uuid4().hex
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from redis import Redis
        from rq import Queue

        queue = Queue(current_app.config["RQ_QUEUE"], connection=Redis.from_url(redis_url))
        queue.enqueue(func_path, *ids, job_id=job_id, job_timeout=current_app.config["JOB_TIMEOUT_SECONDS"])
    else:
        embedded = current_app.extensions.get("embedded_worker")
        if embedded is None:
            raise RuntimeError("no REDIS_URL and no embedded worker: start one with `flask --app wsgi demo`")
        embedded.submit(func_path, ids, job_id)
    return job_id


def enqueue_request_job(request_id):
    """Queue the job that carries out an approved request (erasure 5.2/5.3, export 5.4); store its id."""
    privacy_request = db.session.get(PrivacyRequest, request_id)
    func_path = job_for(privacy_request.type)
    if func_path is None:
        return None
    job_id = enqueue(func_path, privacy_request.id)
    privacy_request.job_id = job_id
    db.session.commit()
    return job_id
