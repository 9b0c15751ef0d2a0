"""Sign-in security records: server-side sessions, sign-in throttles, recovery codes, pending role grants (policy 4.3)."""
from ..extensions import db
from .base import utcnow


class StaffSession(db.Model):
    """One signed-in browser. The cookie carries only `id`; deleting the row ends the session at once."""

    __tablename__ = "staff_session"

    # 43 characters of secrets.token_urlsafe(32); compared as a keyed hash so a database copy opens nothing.
    id = db.Column(db.String(64), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_seen_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # What the "your sessions" page shows to recognise a browser: a short user-agent label, never the IP's owner.
    user_agent = db.Column(db.String(120), nullable=False, default="")
    ip = db.Column(db.String(45), nullable=True)


class LoginThrottle(db.Model):
    """Failed sign-ins counted per key: `account:<keyed hash of the typed e-mail>` or `ip:<address>`."""

    __tablename__ = "login_throttle"

    key = db.Column(db.String(100), primary_key=True)
    failures = db.Column(db.Integer, nullable=False, default=0)
    last_failure_at = db.Column(db.DateTime, nullable=True)
    # Back-off: no attempt is even checked before this time.
    blocked_until = db.Column(db.DateTime, nullable=True)
    # Lockout: only an admin lifts it (accounts only).
    locked = db.Column(db.Boolean, nullable=False, default=False)


class RecoveryCode(db.Model):
    """A one-time second-factor recovery code, kept as a keyed hash."""

    __tablename__ = "staff_recovery_code"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, index=True)
    code_hash = db.Column(db.String(255), nullable=False)
    used_at = db.Column(db.DateTime, nullable=True)


class RoleGrant(db.Model):
    """A role change that gives access to client data, waiting for a second admin (least privilege)."""

    __tablename__ = "staff_role_grant"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, index=True)
    roles_after = db.Column(db.String(100), nullable=False)
    requested_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=False)
    requested_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # pending → approved / refused / superseded
    status = db.Column(db.String(20), nullable=False, default="pending")
    decided_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    decided_at = db.Column(db.DateTime, nullable=True)


class SearchToken(db.Model):
    """A list search term behind a short-lived opaque token, so no e-mail, phone or IIN appears in a URL.

    Tied to the staff session: it ends with the session (ON DELETE CASCADE) or after TOKEN_MINUTES.
    """

    __tablename__ = "search_token"

    token = db.Column(db.String(32), primary_key=True)
    session_id = db.Column(db.String(64), db.ForeignKey("staff_session.id", ondelete="CASCADE"), nullable=False,
                           index=True)
    term = db.Column(db.String(500), nullable=False)
    expires_at = db.Column(db.DateTime, nullable=False)
