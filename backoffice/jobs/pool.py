"""The default production worker: a supervising parent and N long-lived in-process workers (RQ's WorkerPool).

The parent builds the app once; each member is forked from it with the app and its imports already in memory
and runs jobs in its own process (BackofficeSimpleWorker): no fork, no fresh app and no new database connection
per job. What a forked work horse per job gave is kept another way:
- a job that hangs: RQ's job timeout (SIGALRM in the member); one stuck past timeout + 60 s in C code is
  SIGKILLed by the parent;
- a job that leaks: the member leaves after WORKER_MAX_JOBS jobs or past WORKER_MAX_MEMORY_MB and is replaced;
- a job that crashes its process: the parent sees the member die, marks it dead in Redis and runs reconcile at
  once, so the request's job is re-queued, and starts a new member;
- the parent itself killed: every member and RQ scheduler dies with it (jobs/lifeline.py); their Redis keys
  lapse within LIVENESS_SECONDS and the next reconcile (every 15 s, any worker on any machine) re-queues.
"""
import datetime as dt
import gc
import logging
import multiprocessing
import os
import signal
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.worker_pool import WorkerPool

from ..extensions import db
from ..services import execution
from . import lifeline
from .base import job_app
from .rq_worker import BackofficeSimpleWorker

log = logging.getLogger("backoffice.jobs")

# How often the parent looks for members stuck in one job past its timeout.
STUCK_CHECK_SECONDS = 5


def run_member(name, queue_names, burst, with_scheduler, max_jobs, max_memory_mb, logging_level):
    """A pool member: one in-process RQ worker using the app it inherited from the parent."""
    app = job_app()
    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(queue_name, connection=connection) for queue_name in queue_names]
    worker = BackofficeSimpleWorker(queues, name=name, connection=connection, backoffice_config=dict(app.config),
                                    max_memory_mb=max_memory_mb)
    worker.work(burst=burst, with_scheduler=with_scheduler, max_jobs=max_jobs, logging_level=logging_level)


class SupervisedPool(WorkerPool):
    """rq.WorkerPool whose members are forked from this process (app preloaded) and die with it."""

    def __init__(self, app, queues, connection, num_workers, max_jobs=None, max_memory_mb=None,
                 with_scheduler=True):
        super().__init__(queues, connection=connection, num_workers=num_workers, worker_class=BackofficeSimpleWorker)
        self.app = app
        self.max_jobs = max_jobs
        self.max_memory_mb = max_memory_mb
        self.with_scheduler = with_scheduler
        self._last_stuck_check = 0.0
        self._fork = multiprocessing.get_context("fork")
        lifeline.install()
        self._prepare_fork()

    def _prepare_fork(self):
        # No pooled database connection may cross a fork; gc.freeze keeps the parent's objects out of the members'
        # collections, so their pages stay shared instead of being copied by the first garbage collection.
        with self.app.app_context():
            for engine in db.engines.values():
                engine.dispose()
        gc.collect()
        gc.freeze()

    def get_worker_process(self, name, burst, _sleep=0, logging_level="INFO"):
        return self._fork.Process(
            target=run_member, name=f"backoffice worker {name}",
            args=(name, self._queue_names, burst, self.with_scheduler, self.max_jobs, self.max_memory_mb,
                  logging_level))

    def handle_dead_worker(self, worker_data):
        super().handle_dead_worker(worker_data)
        code = worker_data.process.exitcode
        if code in (0, None) or self.status == self.Status.STOPPED:
            return  # it left on purpose (max jobs, memory, burst done, shutdown)
        log.warning("worker %s (pid %s) died (exit code %s): re-queueing its job", worker_data.name,
                    worker_data.pid, code)
        self._bury(worker_data.name)

    def _bury(self, name):
        """A member died in a job: mark it dead in Redis and reconcile now, instead of after its key lapses."""
        try:
            worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=self.connection)
            if worker is not None:
                worker.register_death()
        except RedisError as exc:
            log.warning("dead worker %s not marked in Redis (%s)", name, type(exc).__name__)
        try:
            with self.app.app_context():
                requeued = execution.reconcile()
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()
            if requeued:
                log.info("reconcile after a worker death re-queued request(s) %s", ", ".join(map(str, requeued)))
        except Exception as exc:  # noqa: BLE001 - the periodic reconcile will try again; keep supervising
            log.error("reconcile after a worker death failed (%s)", type(exc).__name__)

    def check_workers(self, respawn=True):
        super().check_workers(respawn=respawn)
        if time.monotonic() - self._last_stuck_check >= STUCK_CHECK_SECONDS:
            self._last_stuck_check = time.monotonic()
            self._kill_stuck_members()

    def _kill_stuck_members(self):
        """A member whose job runs past its timeout + 60 s ignores SIGALRM (stuck in C code): kill it."""
        for data in list(self.worker_dict.values()):
            try:
                worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + data.name,
                                            connection=self.connection)
                job = worker.get_current_job() if worker is not None else None
            except RedisError:
                return
            if job is None or not job.started_at or job.timeout in (None, -1):
                continue
            started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=dt.timezone.utc)
            running = time.time() - started.timestamp()
            if running > job.timeout + 60:
                log.error("worker %s stuck in job %s for %.0f s: killing it", data.name, job.id, running)
                os.kill(data.pid, signal.SIGKILL)
