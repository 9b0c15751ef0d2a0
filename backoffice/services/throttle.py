"""Sign-in throttling per account and per IP address, with exponential back-off and an admin-lifted lockout.

Counters live in the database (table login_throttle), so every web process and the embedded mode share them
without Redis. An account is keyed by the keyed hash of the typed e-mail, so unknown e-mails are throttled
exactly like known ones (no difference an attacker could measure) and no address is stored.
After LOGIN_BACKOFF_AFTER failures each further failure doubles the wait (1 s, 2 s, 4 s ... up to
LOGIN_BACKOFF_MAX_SECONDS); after LOGIN_LOCKOUT_AFTER failures the account is locked until an admin unlocks it.
An IP address backs off the same way after LOGIN_IP_BACKOFF_AFTER failures, but is never locked for good.
"""
import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models.base import utcnow
from ..models.security import LoginThrottle
from .pseudonyms import keyed_hash

FAILURE_WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    locked: bool = False
    retry_after: int = 0


def account_key(email):
    return "account:" + keyed_hash((email or "").strip().lower())[:64]


def ip_key(ip):
    return "ip:" + (ip or "unknown")[:45]


def _row(key, create=False):
    row = db.session.get(LoginThrottle, key, with_for_update=create)
    if row is None and create:
        # Two failures for a new key at once: the loser of the insert race counts on the winner's row.
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(key=key, failures=0, locked=False))
        except IntegrityError:
            pass
        row = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    return row


def check(email, ip):
    """May a sign-in for `email` from `ip` be tried now? Reads only."""
    now = utcnow()
    wait = 0
    for key in (account_key(email), ip_key(ip)):
        row = _row(key)
        if row is None:
            continue
        if row.locked:
            return Verdict(False, locked=True)
        if row.blocked_until and row.blocked_until > now:
            wait = max(wait, int((row.blocked_until - now).total_seconds()) + 1)
    return Verdict(wait == 0, retry_after=wait)


def _backoff_seconds(failures, threshold):
    if failures < threshold:
        return 0
    return min(2 ** (failures - threshold), current_app.config["LOGIN_BACKOFF_MAX_SECONDS"])


def record_failure(email, ip):
    """Count a failed sign-in against the account and the address (caller commits). Returns True if now locked."""
    config = current_app.config
    now = utcnow()
    locked = False
    for key, threshold, lock_after in ((account_key(email), config["LOGIN_BACKOFF_AFTER"],
                                        config["LOGIN_LOCKOUT_AFTER"]),
                                       (ip_key(ip), config["LOGIN_IP_BACKOFF_AFTER"], None)):
        row = _row(key, create=True)
        if not row.locked and row.last_failure_at and now - row.last_failure_at > FAILURE_WINDOW:
            row.failures = 0  # an old run of mistakes is forgotten; a lockout is not
        row.failures = (row.failures or 0) + 1
        row.last_failure_at = now
        wait = _backoff_seconds(row.failures, threshold)
        row.blocked_until = now + dt.timedelta(seconds=wait) if wait else None
        if lock_after is not None and row.failures >= lock_after:
            row.locked = True
            locked = True
    db.session.flush()
    return locked


def record_success(email):
    """A correct sign-in clears the account's counter (the address keeps its count until it ages out)."""
    row = _row(account_key(email))
    if row is not None and not row.locked:
        db.session.delete(row)


def is_locked(email):
    row = _row(account_key(email))
    return bool(row and row.locked)


def unlock(email):
    """Lift the account's lockout and back-off (an admin's action; caller audits and commits)."""
    row = _row(account_key(email))
    if row is None:
        return False
    db.session.delete(row)
    return True
