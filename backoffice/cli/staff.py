"""flask commands for staff accounts: create-user."""
import os

import click
from flask.cli import with_appcontext

from ..models.staff import ROLES
from ..services import staff as staff_service


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
        user = staff_service.cli_create(email, password, set(roles), full_name=name)
    except staff_service.StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created staff user #{user.id} with roles {', '.join(sorted(roles))}.")
