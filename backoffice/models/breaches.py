"""The personal-data breach register (policy 4.3; Law 94-V as amended by Law 44-VIII, in force 1 July 2024)."""
from ..extensions import db
from .base import utcnow

OPEN = "open"
NOTIFIED = "notified"
CLOSED = "closed"
BREACH_STATUSES = (OPEN, NOTIFIED, CLOSED)
# An incident names the data map's systems it touched by id, or OTHER_SYSTEM for one not on the data map.
# Incidents recorded before the data map named systems by these codes (still shown by their labels).
OTHER_SYSTEM = "other"
LEGACY_SYSTEMS = ("backoffice", "booking_site", "reservation_system", "email", "crm")
# How affected clients were chosen (stored per row: ids only, never a copy of their data).
SELECTIONS = ("route_date", "system", "opt_out_list", "id_list")


class BreachIncident(db.Model):
    """One incident. The description is free text for staff only; the notice draft never quotes it."""

    __tablename__ = "breach_incident"

    id = db.Column(db.Integer, primary_key=True)
    discovered_at = db.Column(db.DateTime, nullable=False)
    discovered_by = db.Column(db.String(200), nullable=False)
    reported_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    description = db.Column(db.Text, nullable=False)
    data_categories = db.Column(db.JSON, nullable=False, default=list)
    systems = db.Column(db.JSON, nullable=False, default=list)  # data map system ids, or "other"
    estimated_count = db.Column(db.Integer, nullable=True)
    status = db.Column(db.String(10), nullable=False, default=OPEN, index=True)
    notice_due_at = db.Column(db.DateTime, nullable=False, index=True)
    notice_sent_on = db.Column(db.Date, nullable=True)
    notice_reference = db.Column(db.String(100), nullable=True)
    notice_contact = db.Column(db.String(300), nullable=True)
    closed_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    reported_by = db.relationship("StaffUser")
    steps = db.relationship("BreachStep", order_by="BreachStep.id", lazy="select")

    __mapper_args__ = {"version_id_col": version}

    def __str__(self):
        return f"#{self.id}"


class BreachStep(db.Model):
    """A containment step taken, in order."""

    __tablename__ = "breach_step"

    id = db.Column(db.Integer, primary_key=True)
    incident_id = db.Column(db.Integer, db.ForeignKey("breach_incident.id"), nullable=False, index=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    text = db.Column(db.Text, nullable=False)

    by = db.relationship("StaffUser")


class BreachAffectedClient(db.Model):
    """A client affected by an incident: the id only, and when the client was told (subject notification)."""

    __tablename__ = "breach_affected_client"

    incident_id = db.Column(db.Integer, db.ForeignKey("breach_incident.id"), primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), primary_key=True, index=True)
    selection = db.Column(db.String(20), nullable=False)
    added_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    notified_at = db.Column(db.DateTime, nullable=True)
    notified_channel = db.Column(db.String(20), nullable=True)
    # The breach notice queued in the letter outbox for this client (at most one: services/breach_subjects.py);
    # notified_at is set when it is sent.
    letter_id = db.Column(db.Integer, db.ForeignKey("letter.id"), nullable=True)
