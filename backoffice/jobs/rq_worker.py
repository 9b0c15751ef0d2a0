"""The RQ workers for production: the stock workers plus the periodic table and a short liveness heartbeat.

A worker's Redis key is its proof of life for reconcile (services/jobqueue.worker_alive): it expires
LIVENESS_SECONDS after the last heartbeat, so a SIGKILLed worker's job is recognised as lost within that time,
not after RQ's default TTL (job timeout + 60 s for an in-process worker).
"""
import logging
import resource
import threading

from redis.exceptions import RedisError
from rq import SimpleWorker, Worker

from .schedule import PERIODIC_TICK_SECONDS, enqueue_due

log = logging.getLogger("backoffice.jobs")

# The worker's key outlives its last heartbeat by this long; heartbeats come every HEARTBEAT_SECONDS.
LIVENESS_SECONDS = 20
HEARTBEAT_SECONDS = 5


class BackofficeWorker(Worker):
    """rq.Worker (a work horse forked per job) that queues due periodic jobs and heartbeats every 5 s."""

    def __init__(self, *args, backoffice_config=None, **kwargs):
        kwargs.setdefault("maintenance_interval", PERIODIC_TICK_SECONDS)
        # RQ blocks in the dequeue for worker_ttl - 15 s and heartbeats after each wait, and watches a forked
        # horse in steps of job_monitoring_interval: both give a heartbeat every HEARTBEAT_SECONDS.
        kwargs.setdefault("worker_ttl", HEARTBEAT_SECONDS + 15)
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_SECONDS)
        super().__init__(*args, **kwargs)
        self.backoffice_config = backoffice_config or {}

    def heartbeat(self, timeout=None, pipeline=None):
        # RQ extends the key by worker_ttl + 60 s (or job timeout + 60 s): a dead worker would look alive that long.
        super().heartbeat(min(timeout or LIVENESS_SECONDS, LIVENESS_SECONDS), pipeline=pipeline)

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        if not self.backoffice_config:
            return
        try:
            queued = enqueue_due(self.connection, self.queues[0], self.backoffice_config)
            if queued:
                log.info("periodic jobs queued: %s", ", ".join(queued))
        except RedisError as exc:
            log.warning("periodic jobs not queued this pass (%s)", type(exc).__name__)


class BackofficeSimpleWorker(BackofficeWorker, SimpleWorker):
    """The same worker running each job in its own process: no fork and no fresh connections per job.

    RQ's job timeout still holds (SIGALRM in this process). While a job runs a thread keeps the heartbeat going
    (RQ's SimpleWorker sends none during a job). With `max_memory_mb`, the worker leaves after the job that took
    it past that size, and its supervisor (jobs/pool.py) starts a fresh one: a leaking job cannot grow it forever.
    """

    def __init__(self, *args, max_memory_mb=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_memory_mb = max_memory_mb

    def execute_job(self, job, queue):
        stop = threading.Event()
        beat = threading.Thread(target=self._keep_alive, args=(stop,), name="rq-heartbeat", daemon=True)
        beat.start()
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            beat.join()
        if self.max_memory_mb and resident_mb() > self.max_memory_mb:
            log.warning("worker %s: %.0f MB resident after job %s, past %s MB: leaving for a fresh process",
                        self.name, resident_mb(), job.id, self.max_memory_mb)
            self._stop_requested = True

    def _keep_alive(self, stop):
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat()
            except RedisError as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.name, type(exc).__name__)


def resident_mb():
    """This process's resident set size in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return pages * resource.getpagesize() / (1024 * 1024)
