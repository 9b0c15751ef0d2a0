"""flask commands for the e-mail channel: mail-import, mail-poll, mail-send (docs/mail.md)."""
import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..services import letters, mail_intake, mail_poll


@click.command("mail-import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@with_appcontext
def mail_import_command(files):
    """Import saved messages (.eml) as the mailbox poll would; one JSON line per message."""
    failed = False
    for name in files:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            click.echo(json.dumps({"file": name, "error": type(exc).__name__}), err=True)
            failed = True
            continue
        result = mail_intake.receive(raw, source="file")
        click.echo(json.dumps({"file": name, **result.as_dict()}, ensure_ascii=False))
    if failed:
        raise SystemExit(1)


@click.command("mail-poll")
@with_appcontext
def mail_poll_command():
    """Read the intake mailbox once (IMAP settings in the README): process and move up to MAIL_POLL_BATCH."""
    if not mail_poll.configured():
        raise click.ClickException("BACKOFFICE_IMAP_HOST and BACKOFFICE_IMAP_USER are not set.")
    try:
        result = mail_poll.poll()
    except mail_poll.MailboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result.as_dict()))


@click.command("mail-send")
@with_appcontext
def mail_send_command():
    """Send the outbox's due letters now (SMTP settings in the README; none set: .eml files in instance/outbox/)."""
    click.echo(json.dumps(letters.send_due()))
