"""Jobs on a real Redis with real RQ workers: Redis flushed, a worker killed mid-erasure, reconcile completes."""
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import SimpleWorker

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.jobs import schedule
from backoffice.models.base import utcnow
from backoffice.models.jobs import FAILED, FINISHED, LOST, JobRecord
from backoffice.models.requests import APPROVED, COMPLETED, PrivacyRequest
from backoffice.services import execution, jobqueue
from tests.conftest import IN_CI, redis_url, require_service
from tests.jobfactories import approved_request, seeded_client, text_hits

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def app_config(app_config):
    require_service("Redis", redis_url(), 6379)
    app_config["REDIS_URL"] = redis_url()
    return app_config


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def queue(app):
    q = jobqueue.rq_queue()
    yield q
    connection = jobqueue.redis_connection()
    for key in connection.scan_iter(f"*{q.name}*"):
        connection.delete(key)


def run_burst(queue):
    """An in-process RQ worker that runs what is queued, then returns."""
    return SimpleWorker([queue], connection=queue.connection).work(burst=True)


def wait_for(condition, what, limit=120):
    """Wait for a condition another process brings about (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_erasure_through_rq(app, queue, manager):
    client, strings = seeded_client("rq", 1)
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    assert jobqueue.job_state(job_id) == "queued"
    assert queue.fetch_job(job_id).args == (request.id,)  # ids only in Redis
    run_burst(queue)
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    assert db.session.get(JobRecord, job_id).status == FINISHED
    assert text_hits(strings[0]) == []


def test_permanent_failure_is_not_retried_and_keeps_personal_data_out_of_redis(app, queue, manager):
    client, strings = seeded_client("rqblk", 2)
    client.status = "blocked"
    db.session.commit()
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    run_burst(queue)
    job = queue.fetch_job(job_id)
    assert job.get_status() == "failed" and job_id in queue.failed_job_registry.get_job_ids()
    failure = job.latest_result().exc_string
    assert "JobFailed" in failure and not any(value in failure for value in strings)
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == "failed"
    assert db.session.get(JobRecord, job_id).status == FAILED


def test_transient_errors_are_retried_by_rq_then_fail_the_request(app, queue, manager, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from backoffice.services import erasure

    calls = []

    def flaky(request_id, job_id=None):
        calls.append(job_id)
        raise OperationalError("UPDATE client SET iin=%(x)s", {"x": "850101300000"}, Exception("server closed"))

    monkeypatch.setattr(erasure, "erase_client", flaky)
    app.config["JOB_RETRY_INTERVALS"] = [0]  # RQ re-queues at once: the burst worker runs every attempt
    client, _ = seeded_client("rqflaky", 6)
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    run_burst(queue)
    assert len(calls) == 1 + jobqueue.RETRY_MAX
    assert queue.fetch_job(job_id).get_status() == "failed"
    db.session.expire_all()
    record = db.session.get(JobRecord, job_id)
    assert record.status == FAILED and record.attempts == 4 and "850101300000" not in record.error
    assert db.session.get(PrivacyRequest, request.id).status == "failed"


def test_redis_flushed_after_approval_then_reconcile_completes(app, queue, manager):
    if not (os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or IN_CI):
        pytest.skip("set REDIS_URL to a Redis database this test may flush")
    client, strings = seeded_client("flush", 3)
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)

    jobqueue.redis_connection().flushdb()

    assert jobqueue.job_state(job_id) is None
    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == [request.id]
    assert db.session.get(JobRecord, job_id).status == LOST
    run_burst(queue)
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    assert text_hits(strings[1]) == []


def test_push_failure_does_not_lose_the_approval(app, manager):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("backoffice_redis", None)
    client, _ = seeded_client("down", 4)
    request = approved_request(client, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    record = db.session.get(JobRecord, job_id)
    assert record.status == "queued" and "queue could not be reached" in system_notes.render(record.error)
    assert db.session.get(PrivacyRequest, request.id).job_id == job_id


def test_bulk_approval_erases_in_batch_jobs_and_reconcile_requeues_a_lost_batch_member_by_member(app, queue,
                                                                                                make_staff):
    from backoffice.models.requests import AWAITING_APPROVAL, ERASURE
    from backoffice.services import bulk
    from tests.services.requestkit import new_request

    app.config["ERASURE_BATCH_SIZE"] = 3
    support, manager = make_staff("support"), make_staff("manager")
    requests = [new_request(ERASURE, support, status=AWAITING_APPROVAL) for _ in range(5)]
    bulk.decide_each(requests, "approve", manager, "identity checked")
    batch_ids = sorted({db.session.get(JobRecord, r.job_id).batch_job_id for r in requests})
    assert len(batch_ids) == 2 and all(jobqueue.job_state(b) == "queued" for b in batch_ids)
    assert sorted(len(queue.fetch_job(b).args) for b in batch_ids) == [2, 3]  # request ids only in Redis
    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == []  # members of a queued batch are live
    # The queue loses one batch (Redis restarted): reconcile finds its members one by one.
    lost = queue.fetch_job(batch_ids[0])
    members = sorted(lost.args)
    lost.delete()
    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == members

    run_burst(queue)

    db.session.expire_all()
    for privacy_request in requests:
        done = db.session.get(PrivacyRequest, privacy_request.id)
        assert done.status == COMPLETED and done.certificate["request_id"] == done.id
    assert {db.session.get(JobRecord, r.job_id).status for r in requests} == {FINISHED}
    assert execution.reconcile(now=utcnow() + dt.timedelta(minutes=5)) == []


def test_worker_killed_mid_erasure_leaves_client_untouched_and_reconcile_completes(app, queue, manager, tmp_path):
    client, strings = seeded_client("kill", 5)
    request = approved_request(client, "erasure", by=manager)
    pause = tmp_path / "pause"
    pause.mkdir()
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=app.config["REDIS_URL"],
               BACKOFFICE_RQ_QUEUE=queue.name, BACKOFFICE_INSTANCE_PATH=str(tmp_path / "worker-instance"),
               SECRET_KEY="test-secret", BACKOFFICE_HASH_KEY=app.config["BACKOFFICE_HASH_KEY"],
               BACKOFFICE_JOB_PAUSE_DIR=str(pause), BACKOFFICE_EXPORT_DIR=app.config["EXPORT_DIR"])
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--fork"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        job_id = jobqueue.enqueue_request_job(request.id)
        reached = pause / "erasure.before_commit.reached"
        wait_for(lambda: reached.exists() or worker.poll() is not None, "the worker to reach the checkpoint")
        assert reached.exists(), log_path.read_text()[-3000:]
        # Every delete/update of the erasure has run, uncommitted: kill the work horse (RQ puts it in a session
        # of its own; the checkpoint file names its pid), then the worker and its scheduler.
        horse = int(reached.read_text())
        assert _started_here(horse, pause), horse  # never signal a process this test did not start
        os.kill(horse, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        wait_for(lambda: not _alive(horse), "the killed work horse to exit")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        if reached.exists():
            leftover = int(reached.read_text())
            if _alive(leftover) and _started_here(leftover, pause):
                os.kill(leftover, signal.SIGKILL)
    db.session.rollback()
    db.session.expire_all()

    for value in strings:  # untouched: not one value went
        assert text_hits(value), value
    # The executing step commits with the work (one transaction): rolled back with it, the request is approved.
    assert db.session.get(PrivacyRequest, request.id).status == APPROVED
    # The killed job still looks recent and its worker's key has not expired: only a stale job counts as dead.
    assert execution.reconcile() == []
    assert execution.reconcile(stale_after=0) == [request.id]
    assert db.session.get(JobRecord, job_id).status == LOST
    run_burst(queue)
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    for value in strings:
        assert text_hits(value) == [], value


def test_no_fork_worker_runs_jobs_in_its_own_process(app, queue, manager, tmp_path):
    """`flask worker --no-fork --burst` (bench/run.py's throughput case): same jobs, no work horse per job."""
    requests = []
    for n in range(2):
        client, _strings = seeded_client(f"nofork{n}", 10 + n)
        requests.append(approved_request(client, "erasure", by=manager))
    job_ids = [jobqueue.enqueue_request_job(request.id) for request in requests]
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=app.config["REDIS_URL"],
               BACKOFFICE_RQ_QUEUE=queue.name, BACKOFFICE_INSTANCE_PATH=str(tmp_path / "worker-instance"),
               SECRET_KEY="test-secret", BACKOFFICE_HASH_KEY=app.config["BACKOFFICE_HASH_KEY"],
               BACKOFFICE_EXPORT_DIR=app.config["EXPORT_DIR"])
    worker = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", "--no-fork",
                             "--without-scheduler"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    db.session.expire_all()
    for request, job_id in zip(requests, job_ids):
        assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
        assert db.session.get(JobRecord, job_id).status == FINISHED
    # Both jobs ran in one process, the worker's (a forking worker runs each in a new work horse).
    assert len({db.session.get(JobRecord, job_id).worker for job_id in job_ids}) == 1


def _started_here(pid, pause):
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return f"BACKOFFICE_JOB_PAUSE_DIR={pause}".encode() in environ.read().split(b"\0")
    except OSError:
        return False


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has let go of everything
    except FileNotFoundError:
        return False


def test_periodic_jobs_are_queued_once_per_interval_across_workers(app, queue):
    connection = queue.connection
    for job in schedule.PERIODIC_JOBS:
        connection.delete(schedule.lock_key(queue.name, job))
    config = dict(app.config)
    assert schedule.enqueue_due(connection, queue, config) == ["reconcile-requests", "cleanup-exports",
                                                               "poll-mailbox", "send-letters", "retention",
                                                               "expire-grants", "lift-expired-blocks",
                                                               "optout-imports", "purge-scrub-files"]
    assert schedule.enqueue_due(connection, queue, config) == []  # a second worker in the same interval
    assert queue.count == 9
    run_burst(queue)
