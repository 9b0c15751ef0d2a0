"""Consents a client gave per purpose, with their withdrawal (policy 3.2, 4.2, 5.3)."""
from ..extensions import db
from .base import utcnow

IDENTIFICATION = "identification"  # 3.2.1
MARKETING = "marketing"  # 3.2.2
STATISTICS = "statistics"  # 3.2.3
THIRD_PARTY = "third_party"  # 4.2
PURPOSES = (IDENTIFICATION, MARKETING, STATISTICS, THIRD_PARTY)
# Where a consent outside the intake was given or withdrawn.
CONSENT_CHANNELS = ("paper_form", "phone", "in_person", "email", "booking_site")
PURPOSE_CLAUSES = {IDENTIFICATION: "3.2.1", MARKETING: "3.2.2", STATISTICS: "3.2.3", THIRD_PARTY: "4.2"}


class Consent(db.Model):
    """One grant of consent for one purpose; withdrawing closes it, giving again opens a new row."""

    __tablename__ = "consent"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=False, index=True)
    purpose = db.Column(db.String(20), nullable=False)
    given_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    source = db.Column(db.String(20), nullable=False, default="registration")
    withdrawn_at = db.Column(db.DateTime, nullable=True)
    withdrawn_source = db.Column(db.String(20), nullable=True)
    # Issue 15: the notice version the consent was given under, and the channel (paper form, call, site ...).
    notice_version_id = db.Column(db.Integer, db.ForeignKey("notice_version.id"), nullable=True)
    channel = db.Column(db.String(20), nullable=True)
    withdrawn_channel = db.Column(db.String(20), nullable=True)

    client = db.relationship("Client", back_populates="consents")
    notice_version = db.relationship("NoticeVersion")

    @property
    def active(self):
        return self.withdrawn_at is None
