"""flask commands that set up the demo: demo, seed-demo."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from flask_migrate import upgrade

from ..demo_receiver import Receiver
from ..http_security import QuietRequestHandler
from ..services import demo as demo_service
from ..services import demo_mail, demo_systems
from ..services.staff import StaffError


def upgrade_schema():
    """Bring the database to the newest migration (the same step a deploy runs)."""
    upgrade()


@click.command("seed-demo")
@click.option("--clients", default=300, show_default=True, help="How many demo clients to create.")
@with_appcontext
def seed_demo_command(clients):
    """Seed demo staff and clients (idempotent)."""
    upgrade_schema()
    password, secret = _demo_secrets()
    staff, added = demo_service.seed_demo(password, clients=clients, totp_secret=secret)
    _print_logins(staff, password, secret)
    click.echo(f"Demo clients added: {added}")


def _demo_secrets():
    try:
        secret = demo_service.demo_totp_secret(current_app.config.get("DEMO_TOTP_SECRET"))
    except StaffError as error:
        raise click.UsageError(str(error)) from None
    return demo_service.demo_password(current_app.config.get("DEMO_PASSWORD")), secret


def _print_logins(staff, password, secret):
    click.echo("Demo logins (password and second-factor key below are shown once; set DEMO_PASSWORD and "
               "DEMO_TOTP_SECRET to choose them):")
    for email, created in staff.items():
        note = "" if created else "  (existed before: its password and second factor were not changed)"
        click.echo(f"  {email}{note}")
    if any(staff.values()):
        click.echo(f"  password: {password}")
        click.echo(f"  second factor (TOTP, base32 key for any authenticator app): {secret}")
        click.echo(f"  current code: python -c \"import pyotp; print(pyotp.TOTP('{secret}').now())\"")


@click.command("demo")
@click.option("--port", default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the database and demo data, then exit.")
@with_appcontext
def demo_command(port, host, no_serve):
    """Create the schema, seed demo data, print the demo logins and serve the back-office."""
    upgrade_schema()
    password, secret = _demo_secrets()
    staff, added = demo_service.seed_demo(password, totp_secret=secret)
    _print_logins(staff, password, secret)
    click.echo(f"Demo clients added: {added}")
    mail = demo_mail.import_samples()  # [mail] issue 12: sample e-mails in, letters out (docs/mail.md)
    click.echo(f"Sample e-mails imported: {mail['messages']}; letters written: {mail['letters']['sent']} "
               f"(instance/outbox/ when no SMTP server is set)")
    app = current_app._get_current_object()
    demo_systems.configure_environment(app.config["INSTANCE_PATH"])
    receiver_url = f"http://127.0.0.1:{demo_systems.RECEIVER_PORT}/privacy"
    copied = demo_systems.seed_demo_systems(receiver_url)
    click.echo(f"Data map: booking site under instance/booking-site.db ({copied} demo customers copied), "
               f"mailer webhook at {receiver_url}, paper archive (manual). `flask --app wsgi systems list` shows it.")
    if no_serve:
        return
    try:
        # The mailer answers "accepted" and confirms 2 s later through the signed callback.
        Receiver(os.environ[demo_systems.MAILER_SECRET_ENV], mode="later", port=demo_systems.RECEIVER_PORT,
                 auto_confirm_after=2.0).start()
    except OSError:
        click.echo(f"Port {demo_systems.RECEIVER_PORT} is busy: start the receiver yourself with "
                   "`flask --app wsgi systems receiver` (same DEMO_MAILER_SECRET).")
    start_embedded = getattr(app, "start_embedded_worker", None)
    if start_embedded is not None and not app.config.get("REDIS_URL"):
        start_embedded()
    click.echo(f"Serving on http://{host}:{port}/admin/  (Ctrl+C to stop)")
    # app.run() is a no-op inside the flask CLI, so the server is started directly.
    from werkzeug.serving import run_simple
    run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True,
               request_handler=QuietRequestHandler)
