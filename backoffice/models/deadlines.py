"""Statutory deadlines per request type, editable by the admin (Law No. 94-V art. 24–25; policy 5.2–5.4)."""
from ..extensions import db
from .base import utcnow

# When the period starts: on receipt (the Law's periods), or on approval (consent withdrawal, no statutory period).
FROM_RECEIPT = "receipt"
FROM_APPROVAL = "approval"
COUNTED_FROM = (FROM_RECEIPT, FROM_APPROVAL)


class DeadlineRule(db.Model):
    """How many Kazakhstan working days a request type has, the legal reference shown to staff, and its extension."""

    __tablename__ = "deadline_rule"

    id = db.Column(db.Integer, primary_key=True)
    request_type = db.Column(db.String(20), nullable=False, unique=True)
    working_days = db.Column(db.Integer, nullable=False)
    counted_from = db.Column(db.String(10), nullable=False, default=FROM_RECEIPT)
    legal_reference = db.Column(db.String(200), nullable=False, default="")
    extension_allowed = db.Column(db.Boolean, nullable=False, default=False)
    extension_working_days = db.Column(db.Integer, nullable=False, default=0)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __str__(self):
        return self.request_type
