"""Privacy requests a client makes under the policy, and their timeline."""
from ..extensions import db
from .base import utcnow

# Request types and the clause each serves.
ACCESS = "access"  # 5.4
RECTIFICATION = "rectification"  # 5.2
BLOCKING = "blocking"  # 5.2
UNBLOCKING = "unblocking"  # 5.2
ERASURE = "erasure"  # 5.2
CONSENT_WITHDRAWAL = "consent_withdrawal"  # 5.3
MARKETING_OPT_OUT = "marketing_opt_out"  # 3.2.2
THIRD_PARTY_GRANT = "third_party_grant"  # 4.1
REQUEST_TYPES = (
    ACCESS, RECTIFICATION, BLOCKING, UNBLOCKING, ERASURE, CONSENT_WITHDRAWAL, MARKETING_OPT_OUT, THIRD_PARTY_GRANT,
)
TYPE_CLAUSES = {
    ACCESS: "5.4", RECTIFICATION: "5.2", BLOCKING: "5.2", UNBLOCKING: "5.2", ERASURE: "5.2",
    CONSENT_WITHDRAWAL: "5.3", MARKETING_OPT_OUT: "3.2.2", THIRD_PARTY_GRANT: "4.1",
}

# Lifecycle states.
RECEIVED = "received"
IDENTITY_VERIFIED = "identity_verified"
IN_PROGRESS = "in_progress"
AWAITING_APPROVAL = "awaiting_approval"
APPROVED = "approved"
EXECUTING = "executing"
COMPLETED = "completed"
REJECTED = "rejected"
CANCELLED = "cancelled"
FAILED = "failed"
STATUSES = (
    RECEIVED, IDENTITY_VERIFIED, IN_PROGRESS, AWAITING_APPROVAL, APPROVED, EXECUTING, COMPLETED, REJECTED, CANCELLED,
    FAILED,
)
CLOSED_STATUSES = (COMPLETED, REJECTED, CANCELLED)
OPEN_STATUSES = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)

CHANNELS = ("email", "letter", "e_document", "phone", "in_person", "web_form", "api")


class PrivacyRequest(db.Model):
    """A client's request under the policy, from receipt to a provable outcome."""

    __tablename__ = "privacy_request"

    id = db.Column(db.Integer, primary_key=True)
    type = db.Column(db.String(20), nullable=False, index=True)
    channel = db.Column(db.String(12), nullable=False, default="email")
    status = db.Column(db.String(20), nullable=False, default=RECEIVED, index=True)
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    due_at = db.Column(db.DateTime, nullable=True, index=True)
    extended_at = db.Column(db.DateTime, nullable=True)
    extension_reason = db.Column(db.Text, nullable=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    # What the requester gave to identify themselves; personal data, erased with the client.
    requester_name = db.Column(db.String(200), nullable=True)
    requester_email = db.Column(db.String(254), nullable=True)
    requester_phone = db.Column(db.String(40), nullable=True)
    description = db.Column(db.Text, nullable=True)
    # Type-specific details: rectification field changes, block end date, grantee, ...
    payload = db.Column(db.JSON, nullable=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    assigned_to_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True, index=True)
    identity_method = db.Column(db.String(20), nullable=True)
    identity_verified_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    identity_verified_at = db.Column(db.DateTime, nullable=True)
    approved_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    approved_at = db.Column(db.DateTime, nullable=True)
    outcome = db.Column(db.Text, nullable=True)
    rejection_reason = db.Column(db.Text, nullable=True)
    duplicate_of_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=True)
    job_id = db.Column(db.String(64), nullable=True)
    certificate = db.Column(db.JSON, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    completed_at = db.Column(db.DateTime, nullable=True)
    version = db.Column(db.Integer, nullable=False, default=1)

    client = db.relationship("Client", backref=db.backref("requests", lazy="select"))
    created_by = db.relationship("StaffUser", foreign_keys=[created_by_id])
    assigned_to = db.relationship("StaffUser", foreign_keys=[assigned_to_id])
    approved_by = db.relationship("StaffUser", foreign_keys=[approved_by_id])
    identity_verified_by = db.relationship("StaffUser", foreign_keys=[identity_verified_by_id])
    events = db.relationship("RequestEvent", back_populates="request", order_by="RequestEvent.id", lazy="select")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self):
        return self.status not in CLOSED_STATUSES

    def __str__(self):
        return f"#{self.id} {self.type}"


class RequestEvent(db.Model):
    """One step on a request's timeline: who did what, when, with which comment."""

    __tablename__ = "request_event"

    id = db.Column(db.Integer, primary_key=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=False, index=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    action = db.Column(db.String(40), nullable=False)
    from_status = db.Column(db.String(20), nullable=True)
    to_status = db.Column(db.String(20), nullable=True)
    comment = db.Column(db.Text, nullable=True)

    request = db.relationship("PrivacyRequest", back_populates="events")
    actor = db.relationship("StaffUser")
