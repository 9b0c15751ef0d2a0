"""The disclosure register: who may receive a client's data and what was actually given (policy 4.1–4.2; Law art. 19)."""
from ..extensions import db
from .base import utcnow

# Recipient categories (the processing register and the register view group by them).
RECIPIENT_CATEGORIES = ("person", "agency", "state_body", "processor", "partner_airline", "other")
# Legal bases of a grant or a disclosure (policy 4.1–4.2).
CLIENT_REQUEST = "client_request"
CONTRACT = "contract"
LAW = "law"
LEGAL_BASES = (CLIENT_REQUEST, CONTRACT, LAW)
# How a grant ended: revoked at the client's request, revoked by staff (with a reason), or expired on its date.
REVOKED_BY_CLIENT = "client_request"
REVOKED_BY_STAFF = "staff"
EXPIRED = "expired"
END_KINDS = (REVOKED_BY_CLIENT, REVOKED_BY_STAFF, EXPIRED)
# Categories of personal data a grant or a disclosure covers.
DATA_CATEGORIES = ("identity", "contact", "document", "booking", "account", "communications", "consents")


class DisclosureGrant(db.Model):
    """A recipient allowed to receive the client's data, for a scope, from a start date until an expiry date."""

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
    # Issue 15: the register's columns. Nullable for rows recorded before them (shown as "not recorded").
    recipient_category = db.Column(db.String(20), nullable=True)
    legal_basis = db.Column(db.String(20), nullable=True)
    data_categories = db.Column(db.JSON, nullable=True)
    starts_on = db.Column(db.Date, nullable=True)
    end_kind = db.Column(db.String(20), nullable=True)
    revoked_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    revocation_reason = db.Column(db.Text, nullable=True)

    client = db.relationship("Client", backref=db.backref("disclosure_grants", lazy="select"))
    request = db.relationship("PrivacyRequest")
    created_by = db.relationship("StaffUser", foreign_keys=[created_by_id])
    revoked_by = db.relationship("StaffUser", foreign_keys=[revoked_by_id])

    __table_args__ = (db.Index("ix_disclosure_grant_open_expiry", "revoked_at", "expires_on"),)

    def is_active(self, today):
        return (self.revoked_at is None and (self.starts_on is None or self.starts_on <= today)
                and (self.expires_on is None or self.expires_on >= today))

    def __str__(self):
        return f"#{self.id} {self.recipient}"


class DisclosureLog(db.Model):
    """One actual disclosure: who was given which categories of whose data, when, under which grant or law."""

    __tablename__ = "disclosure_log"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    grant_id = db.Column(db.Integer, db.ForeignKey("disclosure_grant.id"), nullable=True, index=True)
    recipient = db.Column(db.String(200), nullable=False)
    recipient_category = db.Column(db.String(20), nullable=False)
    legal_basis = db.Column(db.String(20), nullable=False)
    # The law or order a disclosure without a grant rests on (e.g. the transport authorities' order).
    law_reference = db.Column(db.String(300), nullable=True)
    data_categories = db.Column(db.JSON, nullable=False)
    disclosed_at = db.Column(db.DateTime, nullable=False)
    recorded_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)

    grant = db.relationship("DisclosureGrant")
    recorded_by = db.relationship("StaffUser")
