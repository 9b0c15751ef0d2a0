"""Server-side staff sessions: the cookie holds a random token, the database the session (policy 4.3).

Deleting a row ends that session at once: sign-out, a password change or reset, a role change, deactivation and
an admin's "sign out everywhere" all do. A session also ends after SESSION_IDLE_MINUTES without a request and
SESSION_ABSOLUTE_HOURS after sign-in, whatever the cookie says.
"""
import datetime as dt
import secrets

from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models.base import utcnow
from ..models.security import StaffSession
from ..models.staff import StaffUser
from . import audit
from .pseudonyms import keyed_hash

# last_seen_at is written at most this often: a write per page view would contend on SQLite.
TOUCH_EVERY = dt.timedelta(seconds=30)


def _key(token):
    return keyed_hash("session:" + token)


def start(user, user_agent="", ip=None):
    """Open a new session for `user` (caller commits) and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(StaffSession(id=_key(token), user_id=user.id, created_at=now, last_seen_at=now,
                                user_agent=(user_agent or "")[:120], ip=ip))
    return token


def _expired(row, now):
    config = current_app.config
    return (now - row.last_seen_at > dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"])
            or now - row.created_at > dt.timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]))


def load(token, user_id):
    """The active StaffUser of this live session, or None (ended, expired, someone else's, deactivated).

    An expired session is deleted (and audited); a live one has its last-seen time moved on.
    """
    if not token:
        return None
    row = db.session.get(StaffSession, _key(token))
    try:
        wanted = int(user_id)
    except (TypeError, ValueError):
        return None
    if row is None or row.user_id != wanted:
        return None
    now = utcnow()
    user = db.session.get(StaffUser, row.user_id)
    if user is None or not user.is_active or _expired(row, now):
        db.session.delete(row)
        if user is not None:
            audit.record("auth.session_expired", object_type="staff_user", object_id=user.id, actor=user)
        db.session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return user


def current_key(token):
    return _key(token) if token else None


def end(token):
    """End one session (sign-out); caller audits and commits."""
    if token:
        db.session.execute(delete(StaffSession).where(StaffSession.id == _key(token)))


def end_all(user, keep_token=None):
    """End every session of `user` (except the caller's own, when given); returns how many ended."""
    statement = delete(StaffSession).where(StaffSession.user_id == user.id)
    if keep_token:
        statement = statement.where(StaffSession.id != _key(keep_token))
    return db.session.execute(statement).rowcount or 0


def end_one(user, session_id):
    """End one of `user`'s own sessions, chosen on the "your sessions" page by its (hashed) id."""
    return db.session.execute(delete(StaffSession).where(StaffSession.user_id == user.id,
                                                         StaffSession.id == session_id)).rowcount or 0


def sessions_of(user):
    return db.session.execute(select(StaffSession).where(StaffSession.user_id == user.id)
                              .order_by(StaffSession.last_seen_at.desc())).scalars().all()
