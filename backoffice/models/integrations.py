"""Tokens that let the airline's other systems call the intake API (policy 3.2.2, 4.3)."""
from ..extensions import db
from .base import utcnow


class IntegrationToken(db.Model):
    """One integration's bearer token. Only its SHA-256 is stored; the token itself is shown once, at creation.

    The fixed rate-limit window lives on the row, so every web process shares one count without Redis.
    """

    __tablename__ = "integration_token"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    # The first characters of the token, so staff can tell tokens apart without the secret.
    token_prefix = db.Column(db.String(12), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    revoked_at = db.Column(db.DateTime, nullable=True)
    revoked_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    last_used_at = db.Column(db.DateTime, nullable=True)
    rate_window_start = db.Column(db.BigInteger, nullable=False, default=0)
    rate_window_count = db.Column(db.Integer, nullable=False, default=0)

    created_by = db.relationship("StaffUser", foreign_keys=[created_by_id])

    @property
    def active(self):
        return self.revoked_at is None

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"
