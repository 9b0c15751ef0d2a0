"""flask commands: demo, seed-demo, create-user (more are added by the capabilities that own them)."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db
from .models.staff import ROLES
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
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


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


def register_cli(app):
    from .cli_bench import bench_data_command

    for command in (demo_command, seed_demo_command, create_user_command, bench_data_command):
        app.cli.add_command(command)
