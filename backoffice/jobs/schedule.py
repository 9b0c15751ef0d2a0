"""Periodic jobs in one declarative table with stable ids (the Redash `schedule.py` pattern, without rq-scheduler).

RQ mode: every worker checks the table in its maintenance pass (every PERIODIC_TICK_SECONDS) and takes a Redis
lock per job id (`SET key NX EX interval`), so however many workers run, each job is queued once per interval.
Embedded mode: the in-process worker runs due jobs itself.
"""
import time
from dataclasses import dataclass

from ..services.jobqueue import periodic_job_options

# Workers look at the table this often (RQ's maintenance pass); reconcile's interval is 15 s by default.
PERIODIC_TICK_SECONDS = 5


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    func: str
    interval_setting: str  # config key holding the interval in seconds
    # `flask periodic --once --dry-run`: the keyword a job takes to report without changing (None: it is skipped)
    dry_run_arg: str | None = None

    def interval(self, config):
        return max(int(config[self.interval_setting]), 1)


PERIODIC_JOBS = (
    PeriodicJob("reconcile-requests", "backoffice.jobs.maintenance.reconcile", "RECONCILE_INTERVAL_SECONDS"),
    PeriodicJob("cleanup-exports", "backoffice.jobs.maintenance.cleanup_exports", "EXPORT_CLEANUP_INTERVAL_SECONDS"),
    PeriodicJob("poll-mailbox", "backoffice.jobs.mail.poll_mailbox", "MAIL_POLL_INTERVAL_SECONDS"),
    PeriodicJob("send-letters", "backoffice.jobs.mail.send_letters", "MAIL_SEND_INTERVAL_SECONDS"),
    PeriodicJob("retention", "backoffice.jobs.compliance.apply_retention", "RETENTION_INTERVAL_SECONDS",
                dry_run_arg="dry_run"),
    PeriodicJob("expire-grants", "backoffice.jobs.compliance.expire_grants", "GRANT_EXPIRY_INTERVAL_SECONDS"),
    PeriodicJob("lift-expired-blocks", "backoffice.jobs.maintenance.lift_expired_blocks",
                "BLOCK_EXPIRY_INTERVAL_SECONDS"),
    PeriodicJob("optout-imports", "backoffice.jobs.optout_import.maintain_imports", "RECONCILE_INTERVAL_SECONDS"),
    PeriodicJob("purge-scrub-files", "backoffice.jobs.scrub.purge_scrub_files", "SCRUB_PURGE_INTERVAL_SECONDS"),
)


def lock_key(queue_name, job):
    return f"backoffice:periodic:{queue_name}:{job.id}"


def enqueue_due(connection, queue, config, jobs=PERIODIC_JOBS):
    """Queue every periodic job whose interval has passed since any worker last queued it; returns their ids."""
    queued = []
    for job in jobs:
        interval = job.interval(config)
        if connection.set(lock_key(queue.name, job), int(time.time()), nx=True, ex=interval):
            queue.enqueue(job.func, job_id=f"periodic-{job.id}-{int(time.time())}", **periodic_job_options(config))
            queued.append(job.id)
    return queued
