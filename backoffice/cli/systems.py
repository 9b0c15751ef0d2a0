"""flask systems list | check | receiver: the data map from the command line (issue 11)."""
import os
import time

import click
from flask.cli import AppGroup

from ..demo_receiver import Receiver
from ..extensions import db
from ..services import datamap

systems_group = AppGroup("systems", help="The data map: systems that hold client data.")


@systems_group.command("list")
def list_command():
    """Print every system of the data map (names of environment variables, never their values)."""
    datamap.ensure_backoffice_system()
    db.session.commit()
    for system in datamap.all_systems():
        click.echo(datamap.describe(system))


@systems_group.command("check")
def check_command():
    """Connect to every SQL and webhook system; report reachability and missing tables/columns. Changes nothing."""
    datamap.ensure_backoffice_system()
    failing = 0
    for system, problems in datamap.check_all():
        if problems:
            failing += 1
            click.echo(f"#{system.id} {system.name}: FAILED")
            for problem in problems:
                click.echo(f"  - {problem}")
        else:
            click.echo(f"#{system.id} {system.name}: ok")
    if failing:
        raise click.ClickException(f"{failing} system(s) not ready")


@systems_group.command("receiver")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--secret-env", default="DEMO_MAILER_SECRET", show_default=True,
              help="Environment variable holding the shared secret.")
@click.option("--mode", type=click.Choice(["done", "later", "fail"]), default="later", show_default=True)
def receiver_command(port, secret_env, mode):
    """Run the demo webhook receiver on 127.0.0.1 (checks signatures; "later" confirms by callback after 2 s)."""
    secret = os.environ.get(secret_env)
    if not secret:
        raise click.ClickException(f"set {secret_env} to the secret the back-office signs with")
    receiver = Receiver(secret, mode=mode, port=port, auto_confirm_after=2.0 if mode == "later" else None).start()
    click.echo(f"webhook receiver on {receiver.url} (mode {mode}); Ctrl+C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        receiver.stop()
