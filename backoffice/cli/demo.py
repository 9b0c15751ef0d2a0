"""flask commands that set up the demo: demo, seed-demo."""
import click
from flask import current_app
from flask.cli import with_appcontext

from flask_migrate import upgrade

from ..services import demo as demo_service
from ..services import demo_mail


def upgrade_schema():
    """Bring the database to the newest migration (the same step a deploy runs)."""
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
    mail = demo_mail.import_samples()  # [mail] issue 12: sample e-mails in, letters out (docs/mail.md)
    click.echo(f"Sample e-mails imported: {mail['messages']}; letters written: {mail['letters']['sent']} "
               f"(instance/outbox/ when no SMTP server is set)")
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
