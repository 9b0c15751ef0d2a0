"""The default `flask worker` (supervised pool of in-process workers) as real processes on a real Redis.

A SIGKILLed worker leaves no process behind (pool members, RQ's scheduler) and its job is carried out by another
worker within a minute; a member killed mid-job is replaced and its job re-queued at once by the supervisor.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backoffice.extensions import db
from backoffice.models.jobs import FINISHED, LOST, JobRecord
from backoffice.models.requests import COMPLETED, PrivacyRequest
from backoffice.services import jobqueue
from tests.conftest import redis_url, require_service
from tests.jobfactories import approved_request, seeded_client, text_hits

ROOT = Path(__file__).resolve().parent.parent.parent
CHECKPOINT = "erasure.before_commit"


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


@pytest.fixture
def workers(app, queue, tmp_path):
    """Start `flask worker ...` processes (own sessions); every one still running is SIGKILLed at the end."""
    started = []

    def start(*args, pause=None, name="worker"):
        env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=app.config["REDIS_URL"],
                   BACKOFFICE_RQ_QUEUE=queue.name, BACKOFFICE_INSTANCE_PATH=str(tmp_path / "worker-instance"),
                   SECRET_KEY="test-secret", BACKOFFICE_HASH_KEY=app.config["BACKOFFICE_HASH_KEY"],
                   BACKOFFICE_EXPORT_DIR=app.config["EXPORT_DIR"])
        if pause is not None:
            env["BACKOFFICE_JOB_PAUSE_DIR"] = str(pause)
        log = open(tmp_path / f"{name}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        process.log_path = tmp_path / f"{name}.log"
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition, what, limit=60):
    """Poll for a condition another process brings about; fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {limit} s for {what}")
        time.sleep(0.05)


def descendants(pid):
    """Pids of every live process below `pid` (from /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_pool_runs_jobs_in_long_lived_processes(app, queue, manager, workers):
    requests = []
    for n in range(4):
        client, _strings = seeded_client(f"pool{n}", 20 + n)
        requests.append(approved_request(client, "erasure", by=manager))
    job_ids = [jobqueue.enqueue_request_job(request.id) for request in requests]
    worker = workers("--burst", "--processes", "2", "--without-scheduler")
    assert worker.wait(timeout=120) == 0, worker.log_path.read_text()[-3000:]
    db.session.expire_all()
    names = set()
    for request, job_id in zip(requests, job_ids):
        assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
        record = db.session.get(JobRecord, job_id)
        assert record.status == FINISHED
        names.add(record.worker)
    assert 1 <= len(names) <= 2  # four jobs, at most two processes: no process per job


def _pause_in_job(app, manager, tmp_path, workers, *args):
    client, strings = seeded_client("poolkill", 30)
    request = approved_request(client, "erasure", by=manager)
    pause = tmp_path / "pause"
    pause.mkdir()
    worker = workers(*args, pause=pause, name="victim")
    job_id = jobqueue.enqueue_request_job(request.id)
    reached = pause / f"{CHECKPOINT}.reached"
    wait_for(lambda: reached.exists() or worker.poll() is not None, "the job to reach its checkpoint", limit=120)
    assert reached.exists(), worker.log_path.read_text()[-3000:]
    # The job is inside its transaction, every delete/update sent, the commit not yet.
    wait_for(lambda: len(descendants(worker.pid)) >= 2, "the scheduler to start")  # member + its scheduler
    return request, job_id, strings, pause, worker, int(reached.read_text())


def test_sigkilled_worker_leaves_no_process_and_another_worker_completes_its_job(app, queue, manager, workers,
                                                                                 tmp_path):
    request, job_id, strings, pause, worker, member = _pause_in_job(app, manager, tmp_path, workers,
                                                                    "--processes", "1")
    family = descendants(worker.pid)
    assert member in family
    os.kill(worker.pid, signal.SIGKILL)  # the supervisor itself: as `kill -9`, the OOM killer or a power cut
    worker.wait()
    killed_at = time.monotonic()
    wait_for(lambda: not any(alive(pid) for pid in family), "the pool members and the scheduler to die", limit=10)

    (pause / f"{CHECKPOINT}.release").write_text("")  # the next attempt may pass the checkpoint
    workers("--processes", "1", pause=pause, name="rescuer")  # another worker (another machine, a restart)
    db.session.rollback()

    def completed():
        db.session.expire_all()
        return db.session.get(PrivacyRequest, request.id).status == COMPLETED

    wait_for(completed, "reconcile to re-queue the dead worker's job and the other worker to complete it", limit=60)
    assert time.monotonic() - killed_at < 60
    assert db.session.get(JobRecord, job_id).status == LOST
    for value in strings:
        assert text_hits(value) == [], value


def test_member_killed_mid_job_is_replaced_and_its_job_requeued_at_once(app, queue, manager, workers, tmp_path):
    request, job_id, strings, pause, worker, member = _pause_in_job(app, manager, tmp_path, workers,
                                                                    "--processes", "1")
    family = descendants(member)  # its RQ scheduler
    os.kill(member, signal.SIGKILL)  # a job that crashes its process (segfault, OOM)
    wait_for(lambda: not any(alive(pid) for pid in family), "the member's scheduler to die", limit=10)
    (pause / f"{CHECKPOINT}.release").write_text("")

    def completed():
        db.session.expire_all()
        return db.session.get(PrivacyRequest, request.id).status == COMPLETED

    # No wait for a key to lapse: the supervisor saw the death, reconciled and started a new member.
    wait_for(completed, "the supervisor to re-queue the job and a new member to complete it", limit=30)
    assert worker.poll() is None, worker.log_path.read_text()[-3000:]
    assert db.session.get(JobRecord, job_id).status == LOST
    assert member not in descendants(worker.pid)
    for value in strings:
        assert text_hits(value) == [], value
