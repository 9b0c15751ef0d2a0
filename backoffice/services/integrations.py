"""Integration tokens for the intake API: created and revoked by the admin, stored hashed (policy 4.3).

Rate limiting is a fixed one-minute window kept on the token's own row and advanced with one atomic UPDATE.
Database-backed, not in memory: the web runs several processes (a per-process counter would multiply the limit
and reset on every restart), and Redis is optional in the embedded deployment, while the database is always there.
"""
import hashlib
import secrets

from flask_babel import gettext as _
from sqlalchemy import case, select, update

from ..extensions import db
from ..models.base import utcnow
from ..models.integrations import IntegrationToken
from . import audit
from .transaction import user_action

TOKEN_PREFIX = "bko_"
PREFIX_SHOWN = 10


class TokenError(ValueError):
    """A token change that cannot be made; the message is translated and safe to show."""


def token_hash(token):
    """SHA-256 hex of the token: tokens are 256-bit random strings, so a fast hash is enough to store them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@user_action
def create_token(name, by):
    """Create a token for one integration; returns (row, token). The token is not stored and cannot be shown again.
    Committed here (one admin action)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenError(_("Name the integration (at most 100 characters)."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = IntegrationToken(name=name, token_hash=token_hash(token), token_prefix=token[:PREFIX_SHOWN],
                           created_by_id=getattr(by, "id", None), created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    audit.record("integration_token.create", object_type="integration_token", object_id=row.id, actor=by)
    return row, token


@user_action
def revoke_token(token_id, by):
    """Revoke a token at once (committed here); the integration's next call is refused."""
    row = db.session.get(IntegrationToken, token_id) if isinstance(token_id, int) else None
    if row is None:
        raise TokenError(_("That token does not exist."))
    if row.revoked_at is not None:
        raise TokenError(_("That token was already revoked."))
    row.revoked_at = utcnow()
    row.revoked_by_id = getattr(by, "id", None)
    db.session.flush()
    audit.record("integration_token.revoke", object_type="integration_token", object_id=row.id, actor=by)
    return row


def authenticate(authorization_header):
    """The active token named by an `Authorization: Bearer <token>` header, or None. Reads only."""
    scheme, _sep, token = (authorization_header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return db.session.execute(
        select(IntegrationToken).where(IntegrationToken.token_hash == token_hash(token),
                                       IntegrationToken.revoked_at.is_(None))
    ).scalar_one_or_none()


@user_action
def admit(token, limit_per_minute):
    """Count this call against the token's rate limit and commit the count (also when the call is then refused);
    True if the call may proceed."""
    return take_rate_slot(token, limit_per_minute)


def take_rate_slot(token, limit_per_minute, now=None):
    """Count one call in the token's current minute; True if it is within the limit. The caller commits."""
    now = now or utcnow()
    window = int(now.timestamp() // 60)
    db.session.execute(
        update(IntegrationToken).where(IntegrationToken.id == token.id).values(
            rate_window_count=case((IntegrationToken.rate_window_start == window,
                                    IntegrationToken.rate_window_count + 1), else_=1),
            rate_window_start=window,
            last_used_at=now,
        ).execution_options(synchronize_session=False)
    )
    count = db.session.execute(
        select(IntegrationToken.rate_window_count).where(IntegrationToken.id == token.id)
    ).scalar_one()
    return count <= limit_per_minute
