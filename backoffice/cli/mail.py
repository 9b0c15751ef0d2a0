"""flask commands for the e-mail channel: mail-import, mail-poll, mail-send (docs/mail.md)."""
import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..services import mail_intake


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
