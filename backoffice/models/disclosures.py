"""The disclosure register: third parties a client allowed to receive their data (policy 4.1)."""
from ..extensions import db
from .base import utcnow


class DisclosureGrant(db.Model):
    """A named person or organisation the client allowed to access their data, for a scope, until an expiry date."""

    __tablename__ = "disclosure_grant"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=False, index=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=True, index=True)
    recipient = db.Column(db.String(200), nullable=False)
    scope = db.Column(db.Text, nullable=False)
    expires_on = db.Column(db.Date, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    revoked_at = db.Column(db.DateTime, nullable=True)

    client = db.relationship("Client", backref=db.backref("disclosure_grants", lazy="select"))
    request = db.relationship("PrivacyRequest")
    created_by = db.relationship("StaffUser")
