"""Reports of the daily retention run (policy 3.1; Law 94-V art. 7, 12): counts per record type, no personal data."""
from ..extensions import db
from .base import utcnow


class RetentionRun(db.Model):
    __tablename__ = "retention_run"

    id = db.Column(db.Integer, primary_key=True)
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    finished_at = db.Column(db.DateTime, nullable=True)
    dry_run = db.Column(db.Boolean, nullable=False, default=False)
    trigger = db.Column(db.String(20), nullable=False, default="periodic")
    status = db.Column(db.String(10), nullable=False, default="running")
    # [{record_type, action, keep_years, legal_reference, cutoff, rows, batches, seconds}]
    report = db.Column(db.JSON, nullable=True)
    total_rows = db.Column(db.Integer, nullable=False, default=0)
