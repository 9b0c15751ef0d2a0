"""flask commands for the job system: worker, reconcile, cleanup-exports."""
import gc

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..jobs import lifeline
from ..jobs.base import bind_worker_app
from ..jobs.pool import SupervisedPool
from ..jobs.rq_worker import BackofficeSimpleWorker, BackofficeWorker
from ..services import execution, export
from ..services.jobqueue import redis_connection, rq_queue


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True,
              help="Also run RQ's scheduler (needed for retry intervals).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Worker processes under one supervisor (default BACKOFFICE_WORKER_PROCESSES: one per core).")
@click.option("--fork/--no-fork", default=None,
              help="Instead of the supervised pool: --fork forks a work horse per job (RQ's classic worker, "
                   "~10x slower); --no-fork runs one unsupervised in-process worker (debugging).")
@with_appcontext
def worker_command(burst, with_scheduler, processes, fork):
    """Run RQ workers on REDIS_URL's queue (production; one or more per machine, on any number of machines)."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set. Without Redis, jobs run inside `flask --app wsgi demo`.")
    bind_worker_app(app)
    if fork is None:
        pool = SupervisedPool(app, [rq_queue(app)], connection=redis_connection(app),
                              num_workers=processes or app.config["WORKER_PROCESSES"],
                              max_jobs=app.config["WORKER_MAX_JOBS"], max_memory_mb=app.config["WORKER_MAX_MEMORY_MB"],
                              with_scheduler=with_scheduler)
        pool.start(burst=burst, logging_level="INFO")
        return
    if processes not in (None, 1):
        raise click.ClickException("--processes needs the supervised pool (drop --fork/--no-fork).")
    lifeline.install()  # the work horses and RQ's scheduler die with this process
    # The work horses are forked from here: no pooled database connection may cross the fork.
    for engine in db.engines.values():
        engine.dispose()
    # A horse's first full garbage collection would walk (and so copy) every page of the app's heap: ~150 ms
    # per job. Frozen objects are left out of collections (bench/worker_profile.py).
    gc.collect()
    gc.freeze()
    worker_class = BackofficeWorker if fork else BackofficeSimpleWorker
    worker = worker_class([rq_queue(app)], connection=redis_connection(app), backoffice_config=dict(app.config))
    worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")


@click.command("reconcile")
@click.option("--stale-after", type=int, default=None,
              help="Seconds after which a started job counts as dead (default JOB_STALE_SECONDS).")
@with_appcontext
def reconcile_command(stale_after):
    """Re-queue approved/executing requests without a live job (Redis lost it, or its worker died)."""
    requeued = execution.reconcile(stale_after=stale_after)
    click.echo(f"Re-queued {len(requeued)} request(s)" + (f": {', '.join(map(str, requeued))}" if requeued else "."))
    worker = current_app.extensions.get("embedded_worker")
    if worker is not None and requeued:
        # Embedded mode has no separate worker: carry the jobs out now.
        worker.drain()


@click.command("cleanup-exports")
@with_appcontext
def cleanup_exports_command():
    """Delete expired export packages (policy 5.4)."""
    result = export.cleanup_expired()
    click.echo(f"Deleted {result['expired']} expired package(s), {result['orphans']} stray file(s).")
