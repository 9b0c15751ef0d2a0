"""flask commands for printed documents: certificate-verify (policy 5.2, 5.3)."""
import click
from flask.cli import with_appcontext

from ..services import documents


@click.command("certificate-verify")
@click.argument("request_id", type=int)
@click.argument("sha256")
@with_appcontext
def certificate_verify_command(request_id, sha256):
    """Check the SHA-256 printed on an erasure certificate against the one stored for REQUEST_ID (exit 1 if not)."""
    result = documents.verify_certificate(request_id, sha256)
    if result.matches:
        click.echo(f"Valid: the erasure certificate of request #{request_id} ({result.outcome}).")
        return
    if result.found:
        click.echo(f"Does NOT match the certificate of request #{request_id}: the document may have been altered.",
                   err=True)
    else:
        click.echo(f"Request #{request_id} has no erasure certificate.", err=True)
    raise SystemExit(1)
