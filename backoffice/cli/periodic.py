"""flask periodic --once [--dry-run]: run every periodic job now and print what each did (issue 15)."""
import click
from flask.cli import with_appcontext
from werkzeug.utils import import_string

from ..jobs.schedule import PERIODIC_JOBS


@click.command("periodic")
@click.option("--once", is_flag=True, required=True, help="Run every periodic job once, now.")
@click.option("--dry-run", is_flag=True,
              help="Report what retention would change without changing anything; jobs that cannot report are skipped.")
@with_appcontext
def periodic_command(once, dry_run):
    """Run every job of the periodic table once and print its result (counts and ids only)."""
    failed = 0
    for job in PERIODIC_JOBS:
        if dry_run and job.dry_run_arg is None:
            click.echo(f"{job.id}: skipped (dry run)")
            continue
        kwargs = {job.dry_run_arg: True} if dry_run else {}
        try:
            result = import_string(job.func)(**kwargs)
        except Exception as exc:  # one failing job must not hide what the others did
            failed += 1
            click.echo(f"{job.id}: FAILED ({type(exc).__name__})")
            continue
        if isinstance(result, dict) and "summary" in result:
            result = result["summary"]
        click.echo(f"{job.id}: {result}")
    if failed:
        raise SystemExit(1)
