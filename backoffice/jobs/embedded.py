"""Embedded mode (no REDIS_URL): one daemon thread runs jobs from an in-process queue, so the full flow works on a
fresh machine with `flask --app wsgi demo`. Same job functions, same retry policy, same periodic table as RQ.

Not for production: jobs queued in memory vanish with the process, which is why reconcile runs when it starts.
"""
import logging
import os
import queue
import threading
import time

from werkzeug.utils import import_string

from ..services.jobqueue import RETRY_MAX
from .base import JobContext, embedded_context
from .schedule import PERIODIC_JOBS, PERIODIC_TICK_SECONDS

log = logging.getLogger("backoffice.jobs")


class EmbeddedWorker:
    def __init__(self, app):
        self.app = app
        self._queue = queue.Queue()
        self._states = {}
        self._thread = None
        self._last_run = {}
        self._stopping = threading.Event()

    def submit(self, func_path, ids, job_id, retries_left=RETRY_MAX):
        """Queue `func_path(*ids)` under `job_id` (the jobqueue seam calls this)."""
        self._states[job_id] = "queued"
        self._queue.put((func_path, tuple(ids), job_id, retries_left))

    def state(self, job_id):
        return self._states.get(job_id)

    def pending(self):
        return self._queue.qsize()

    def is_alive(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        if not self.is_alive():
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="embedded-worker", daemon=True)
            self._thread.start()
        return self._thread

    def stop(self):
        """Finish the job in hand, then end the thread (jobs still queued stay queued)."""
        if self.is_alive():
            self._stopping.set()
            self._queue.put(None)  # wakes the thread if it is waiting for work
            self._thread.join()

    def join(self):
        """Block until every queued job has run (tests, or a CLI that must finish its work)."""
        self._queue.join()

    def drain(self):
        """Run queued jobs in the calling thread until the queue is empty; returns how many ran."""
        count = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return count
            try:
                if item is None:
                    continue
                self._execute(item)
            finally:
                self._queue.task_done()
            count += 1

    def run_due_periodic(self, now=None):
        now = time.monotonic() if now is None else now
        ran = []
        for job in PERIODIC_JOBS:
            last = self._last_run.get(job.id)
            if last is not None and now - last < job.interval(self.app.config):
                continue
            self._last_run[job.id] = now
            try:
                with self.app.app_context():
                    import_string(job.func)()
                ran.append(job.id)
            except Exception:  # a failed pass is logged; the next tick tries again
                log.exception("periodic job %s failed", job.id)
        return ran

    def _loop(self):
        while not self._stopping.is_set():
            self.run_due_periodic()
            try:
                item = self._queue.get(timeout=PERIODIC_TICK_SECONDS)
            except queue.Empty:
                continue
            try:
                if item is not None:
                    self._execute(item)
            finally:
                self._queue.task_done()

    def _execute(self, item):
        func_path, ids, job_id, retries_left = item
        context = JobContext(job_id, retries_left)
        self._states[job_id] = "started"
        try:
            func = import_string(func_path)
            with self.app.app_context(), embedded_context(context):
                func(*ids)
            self._states[job_id] = "finished"
        except Exception as exc:  # the job wrapper recorded the failure; here we only decide on a retry
            if context.will_retry:
                intervals = list(self.app.config["JOB_RETRY_INTERVALS"]) or [0]
                delay = intervals[min(RETRY_MAX - retries_left, len(intervals) - 1)]
                self._states[job_id] = "scheduled"
                timer = threading.Timer(delay, self.submit, args=(func_path, ids, job_id, retries_left - 1))
                timer.daemon = True
                timer.start()
            else:
                self._states[job_id] = "failed"
            log.warning("embedded job %s failed (%s); retry=%s", job_id, type(exc).__name__, context.will_retry)


def init_jobs(app):
    """Without REDIS_URL, register the in-process worker; `flask demo` starts it via app.start_embedded_worker."""
    # The process that built the app; a forked work horse sees another pid and drops inherited connections.
    app.extensions["backoffice_job_pid"] = os.getpid()
    if app.config.get("REDIS_URL"):
        return None
    worker = EmbeddedWorker(app)
    app.extensions["embedded_worker"] = worker
    app.start_embedded_worker = worker.start
    return worker
