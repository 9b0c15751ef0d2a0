"""flask commands: demo, seed-demo, create-user (more are added by the capabilities that own them)."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from .extensions import db
from .models.staff import ROLES
from .services import audit as audit_service
from .services import demo as demo_service
from .services import staff as staff_service


def upgrade_schema():
    """Bring the database to the newest migration (the same step a deploy runs)."""
    from flask_migrate import upgrade

    upgrade()


@click.command("seed-demo")
@click.option("--clients", default=300, show_default=True, help="How many demo clients to create.")
@with_appcontext
def seed_demo_command(clients):
    """Seed demo staff and clients (idempotent)."""
    upgrade_schema()
    password = demo_service.demo_password(current_app.config.get("DEMO_PASSWORD"))
    staff, added = demo_service.seed_demo(password, clients=clients)
    _print_logins(staff, password)
    click.echo(f"Demo clients added: {added}")


def _print_logins(staff, password):
    click.echo("Demo logins (password below is shown once; set DEMO_PASSWORD to choose it):")
    for email, created in staff.items():
        note = "" if created else "  (existed before: its password was not changed)"
        click.echo(f"  {email}{note}")
    if any(staff.values()):
        click.echo(f"  password: {password}")


@click.command("demo")
@click.option("--port", default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the database and demo data, then exit.")
@with_appcontext
def demo_command(port, host, no_serve):
    """Create the schema, seed demo data, print the demo logins and serve the back-office."""
    upgrade_schema()
    password = demo_service.demo_password(current_app.config.get("DEMO_PASSWORD"))
    staff, added = demo_service.seed_demo(password)
    _print_logins(staff, password)
    click.echo(f"Demo clients added: {added}")
    if no_serve:
        return
    app = current_app._get_current_object()
    start_embedded = getattr(app, "start_embedded_worker", None)
    if start_embedded is not None and not app.config.get("REDIS_URL"):
        start_embedded()
    click.echo(f"Serving on http://{host}:{port}/admin/  (Ctrl+C to stop)")
    # app.run() is a no-op inside the flask CLI, so the server is started directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)


@click.command("create-user")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--name", default="", help="Full name.")
@click.option("--password-env", default=None, help="Read the password from this environment variable.")
@with_appcontext
def create_user_command(email, roles, name, password_env):
    """Create a staff account; the password comes from a prompt or --password-env."""
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise click.UsageError(f"Environment variable {password_env} is not set.")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = staff_service.create_user(email, password, set(roles), full_name=name)
    except staff_service.StaffError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created staff user #{user.id} with roles {', '.join(sorted(roles))}.")


@click.command("audit-verify")
@with_appcontext
def audit_verify_command():
    """Walk the audit chain; report the first broken or missing link and exit 1 if there is one (policy 4.3)."""
    result = audit_service.verify()
    try:
        audit_service.record("audit.verify", object_type="audit_chain",
                             outcome="success" if result.ok else "failure", details=result.as_details())
        db.session.commit()
    except DBAPIError:
        # A head that was removed or moved refuses new events; the report below still tells what is wrong.
        db.session.rollback()
        click.echo("Could not record this check in the audit log (the chain head refused it).", err=True)
    if result.ok:
        click.echo(f"Audit chain intact: {result.checked} events verified.")
        return
    where = f"event id {result.event_id}, " if result.event_id is not None else ""
    click.echo(f"Audit chain BROKEN at {where}position {result.position}: {result.reason} - {result.explanation}. "
               f"{result.checked} events before it verified.", err=True)
    raise SystemExit(1)


def register_cli(app):
    from .cli_bench import bench_data_command

    for command in (demo_command, seed_demo_command, create_user_command, audit_verify_command, bench_data_command):
        app.cli.add_command(command)
    from .jobs.cli import register_job_commands

    register_job_commands(app)
