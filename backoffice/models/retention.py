"""How long each kind of record is kept after its owner asks for erasure, and why (policy 5.3, Law 94-V art. 8(2))."""
from ..extensions import db
from .base import utcnow

DELETE = "delete"
DEPERSONALISE = "depersonalise"
ACTIONS = (DELETE, DEPERSONALISE)


class RetentionRule(db.Model):
    """One row per record type: what erasure does to it while a law still requires keeping it.

    `action` applies while the record is younger than `period_years` (counted from the record's own date);
    older records are deleted. A period of 0 means no retention duty: the record is always deleted.
    """

    __tablename__ = "retention_rule"

    id = db.Column(db.Integer, primary_key=True)
    record_type = db.Column(db.String(40), nullable=False, unique=True)
    period_years = db.Column(db.Integer, nullable=False, default=5)
    legal_reference = db.Column(db.String(300), nullable=False)
    action = db.Column(db.String(15), nullable=False, default=DEPERSONALISE)
    # The daily retention run (issue 15), for everyone: records older than `keep_years` get `after_period`.
    # NULL: the record type is not limited in time (it goes only with its owner's erasure).
    keep_years = db.Column(db.Integer, nullable=True)
    after_period = db.Column(db.String(15), nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __str__(self):
        return f"{self.record_type}: {self.action} {self.period_years}y"
