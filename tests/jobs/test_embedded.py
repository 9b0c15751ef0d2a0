"""Jobs through the embedded worker (no Redis): the full approved → executing → completed flow, failures, reconcile."""
import pytest
from sqlalchemy.exc import OperationalError

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.jobs.embedded import EmbeddedWorker
from backoffice.models.jobs import FAILED, FINISHED, LOST, JobRecord
from backoffice.models.requests import APPROVED, COMPLETED, PrivacyRequest
from backoffice.services import erasure, execution, jobqueue
from tests.jobfactories import approved_request, seeded_client, text_hits


@pytest.fixture
def worker(app):
    return app.extensions["embedded_worker"]


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def test_approved_erasure_runs_in_the_embedded_worker(app, worker, manager):
    client, strings = seeded_client("emb", 1)
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    assert db.session.get(JobRecord, job_id).status == "queued"
    assert jobqueue.job_state(job_id) == "queued"

    assert worker.drain() == 1

    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    record = db.session.get(JobRecord, job_id)
    assert (record.status, record.attempts, record.error) == (FINISHED, 1, None)
    assert text_hits(strings[1]) == []


def test_the_worker_thread_runs_jobs_each_in_its_own_app_context(app, worker, manager):
    client, _ = seeded_client("thread", 2)
    request = approved_request(client, "access", by=manager)
    worker.start()
    try:
        job_id = jobqueue.enqueue_request_job(request.id)
        worker.join()
        assert worker.state(job_id) == "finished" and worker.is_alive()
    finally:
        worker.stop()  # the thread must not outlive the test's database
    assert not worker.is_alive()
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED


def test_refused_erasure_fails_the_request_with_a_reason_and_no_personal_data(app, worker, manager):
    client, strings = seeded_client("blk", 3)
    client.status = "blocked"
    db.session.commit()
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    worker.drain()
    db.session.expire_all()
    failed = db.session.get(PrivacyRequest, request.id)
    record = db.session.get(JobRecord, job_id)
    assert failed.status == "failed" and "1(3)" in system_notes.render(failed.outcome)
    assert record.status == FAILED and "blocked" in system_notes.render(record.error)
    assert worker.state(job_id) == "failed"  # a permanent failure is not retried
    assert not any(value in record.error + failed.outcome for value in strings)


def test_transient_error_is_retried_then_fails_the_request(app, worker, manager, monkeypatch):
    client, _ = seeded_client("flaky", 4)
    request = approved_request(client, "erasure", by=manager)
    calls = []

    def flaky(request_id, job_id=None):
        calls.append(job_id)
        raise OperationalError("UPDATE client SET full_name=%(x)s", {"x": "Secret Name"}, Exception("gone"))

    monkeypatch.setattr(erasure, "erase_client", flaky)
    app.config["JOB_RETRY_INTERVALS"] = [0]
    submitted = []
    monkeypatch.setattr("threading.Timer", lambda delay, fn, args: _Immediate(fn, args, submitted))
    job_id = jobqueue.enqueue_request_job(request.id)
    worker.drain()  # the stand-in timer re-queues at once, so one drain runs every attempt
    db.session.expire_all()
    assert len(calls) == 1 + jobqueue.RETRY_MAX and len(submitted) == jobqueue.RETRY_MAX
    record = db.session.get(JobRecord, job_id)
    assert record.status == FAILED and "Secret" not in record.error and "OperationalError" in system_notes.render(record.error)
    assert db.session.get(PrivacyRequest, request.id).status == "failed"


class _Immediate:
    """Stands in for threading.Timer: re-submits at once, so the test needs no sleeping."""

    def __init__(self, fn, args, log):
        self.fn, self.args, self.daemon = fn, args, False
        log.append(args)

    def start(self):
        self.fn(*self.args)


def test_reconcile_requeues_a_job_the_queue_forgot(app, worker, manager):
    client, _ = seeded_client("lost", 5)
    request = approved_request(client, "erasure", by=manager)
    lost_job = jobqueue.enqueue_request_job(request.id)
    # The process restarts: a new embedded worker knows nothing of the old queue.
    app.extensions["embedded_worker"] = fresh = EmbeddedWorker(app)
    assert execution.reconcile() == []  # within the grace period a just-queued job is left alone
    import datetime as dt

    from backoffice.models.base import utcnow

    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == [request.id]
    assert db.session.get(JobRecord, lost_job).status == LOST
    fresh.drain()
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == []


def test_manager_retry_sends_a_failed_request_back(app, worker, manager):
    client, _ = seeded_client("retry", 6)
    client.status = "blocked"
    db.session.commit()
    request = approved_request(client, "erasure", by=manager)
    jobqueue.enqueue_request_job(request.id)
    worker.drain()
    client = db.session.get(type(client), client.id)
    client.status = "active"
    db.session.commit()
    new_job = execution.retry_request(request.id, by=manager)
    assert db.session.get(PrivacyRequest, request.id).status == APPROVED
    worker.drain()
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    assert db.session.get(JobRecord, new_job).status == FINISHED
    with pytest.raises(execution.ExecutionError):
        execution.retry_request(request.id, by=manager)


def test_periodic_table_runs_reconcile_and_cleanup(app, worker):
    everything = ["reconcile-requests", "cleanup-exports", "poll-mailbox", "send-letters", "retention", "expire-grants",
                  "lift-expired-blocks", "optout-imports", "purge-scrub-files"]
    assert worker.run_due_periodic(now=0.0) == everything
    assert worker.run_due_periodic(now=1.0) == []
    # Retention is daily (BACKOFFICE_RETENTION_INTERVAL); the others are due again after 10,000 s.
    assert worker.run_due_periodic(now=10_000.0) == [name for name in everything if name != "retention"]


def test_jobs_take_ids_only(app):
    with pytest.raises(TypeError):
        jobqueue.enqueue("backoffice.jobs.erasure.erase_client", "someone@mail.kz")


def test_reconcile_queues_an_approval_whose_job_was_never_queued_but_not_a_fresh_one(app, worker, manager):
    import datetime as dt

    from backoffice.models.base import utcnow

    client, _ = seeded_client("nojob", 7)
    request = approved_request(client, "erasure", by=manager)
    assert execution.reconcile() == []  # the approving request may be queueing it right now
    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == [request.id]
    worker.drain()
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
