"""Versions of the privacy notice a consent is given under (policy 3.2, 4.2), and compliance settings."""
from ..extensions import db
from .base import utcnow


class NoticeVersion(db.Model):
    """One published version of the notice, in the three languages, from its effective date."""

    __tablename__ = "notice_version"

    id = db.Column(db.Integer, primary_key=True)
    version = db.Column(db.String(40), nullable=False, unique=True)
    effective_on = db.Column(db.Date, nullable=False)
    text_kk = db.Column(db.Text, nullable=False)
    text_ru = db.Column(db.Text, nullable=False)
    text_en = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)

    def __str__(self):
        return self.version


class ComplianceSetting(db.Model):
    """A named setting the airline edits in the back-office (the person responsible, dormancy period, ...)."""

    __tablename__ = "compliance_setting"

    key = db.Column(db.String(40), primary_key=True)
    value = db.Column(db.String(300), nullable=False)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    updated_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)


class ConsentIntakeEvent(db.Model):
    """A consent event from the booking site, kept by its event id so that a resent event changes nothing."""

    __tablename__ = "consent_intake_event"

    id = db.Column(db.Integer, primary_key=True)
    event_id = db.Column(db.String(64), nullable=False, unique=True)
    integration_token_id = db.Column(db.Integer, db.ForeignKey("integration_token.id"), nullable=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    purpose = db.Column(db.String(20), nullable=False)
    kind = db.Column(db.String(10), nullable=False)
    # No foreign key: erasure deletes consent rows, and the event id must outlive them (idempotency).
    consent_id = db.Column(db.Integer, nullable=True)
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow)
