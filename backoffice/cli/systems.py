"""flask systems list | check | receiver: the data map from the command line (issue 11)."""
import os
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..demo_receiver import Receiver
from ..services import datamap, demo_systems

systems_group = AppGroup("systems", help="The data map: systems that hold client data.")


def _demo_environment():
    """After `flask demo`, its systems' variables come from instance/ (real systems set their own)."""
    instance = Path(current_app.config["INSTANCE_PATH"])
    if (instance / "demo_mailer_secret").exists():
        demo_systems.configure_environment(instance)


@systems_group.command("list")
def list_command():
    """Print every system of the data map (names of environment variables, never their values)."""
    _demo_environment()
    for system in datamap.current_map():
        click.echo(datamap.describe(system))


@systems_group.command("check")
def check_command():
    """Connect to every SQL and webhook system; report reachability and missing tables/columns. Changes nothing."""
    _demo_environment()
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
    _demo_environment()
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
