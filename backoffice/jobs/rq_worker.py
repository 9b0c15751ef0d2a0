"""The RQ worker for production: the stock worker plus the periodic table in its maintenance pass."""
import logging

from redis.exceptions import RedisError
from rq import SimpleWorker, Worker

from .schedule import PERIODIC_TICK_SECONDS, enqueue_due

log = logging.getLogger("backoffice.jobs")


class BackofficeWorker(Worker):
    """rq.Worker that queues due periodic jobs (reconcile, export cleanup) every PERIODIC_TICK_SECONDS."""

    def __init__(self, *args, backoffice_config=None, **kwargs):
        kwargs.setdefault("maintenance_interval", PERIODIC_TICK_SECONDS)
        # The blocking dequeue must wake up at least once per tick for the maintenance pass to run.
        kwargs.setdefault("worker_ttl", PERIODIC_TICK_SECONDS + 15)
        super().__init__(*args, **kwargs)
        self.backoffice_config = backoffice_config or {}

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
    """The same worker running each job in the worker's own process, not a forked work horse (`worker --no-fork`).

    Forking costs ~0.1 s per job here: the child copies the pages of the app's heap that Python's reference
    counting touches (measured in bench/run.py). Jobs still get their own app context and session.
    """
