"""Periodic jobs of the e-mail channel: read the intake mailbox, send the outbox (docs/mail.md)."""
from ..services import letters, mail_poll
from .base import run_maintenance_job


def poll_mailbox():
    """Process up to MAIL_POLL_BATCH new messages of the intake mailbox (policy 5.3)."""
    return run_maintenance_job(mail_poll.poll).as_dict()


def send_letters():
    """Send the letters whose time has come; failures wait for their next attempt (never lost)."""
    return run_maintenance_job(letters.send_due)
