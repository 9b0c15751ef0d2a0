"""Clients whose personal data the airline holds, their agencies and site accounts (policy 2.1)."""
from ..extensions import db
from .base import utcnow

ACTIVE = "active"
BLOCKED = "blocked"
ERASED = "erased"
CLIENT_STATUSES = (ACTIVE, BLOCKED, ERASED)
LANGUAGES = ("kk", "ru", "en")
# Fields a rectification may change (policy 5.2); a dataset maps them to another system's columns.
RECTIFIABLE_FIELDS = ("full_name", "email", "phone", "iin", "position", "date_of_birth", "preferred_language")


class Agency(db.Model):
    """A B2B company buying through the booking site."""

    __tablename__ = "agency"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    bin = db.Column(db.String(12), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def __str__(self):
        return self.name


class Client(db.Model):
    """A person whose data the airline holds. After erasure the row is a tombstone without personal data."""

    __tablename__ = "client"

    id = db.Column(db.Integer, primary_key=True)
    full_name = db.Column(db.String(200), nullable=True)
    # Normalised lookup columns: index lookups, never LIKE '%x%' scans.
    # Bytewise collation on PostgreSQL so that a prefix range [key, key+U+10FFFF) is exactly "starts with".
    name_key = db.Column(db.String(200).with_variant(db.String(200, collation="C"), "postgresql"),
                         nullable=True)
    email = db.Column(db.String(254), nullable=True)
    email_norm = db.Column(db.String(254), nullable=True, index=True)
    phone = db.Column(db.String(40), nullable=True)
    phone_e164 = db.Column(db.String(20), nullable=True, index=True)
    iin = db.Column(db.String(12), nullable=True, index=True)
    date_of_birth = db.Column(db.Date, nullable=True)
    preferred_language = db.Column(db.String(2), nullable=False, default="ru")
    agency_id = db.Column(db.Integer, db.ForeignKey("agency.id"), nullable=True, index=True)
    position = db.Column(db.String(120), nullable=True)
    status = db.Column(db.String(10), nullable=False, default=ACTIVE, index=True)
    blocked_until = db.Column(db.Date, nullable=True)
    source = db.Column(db.String(20), nullable=False, default="registration")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    erased_at = db.Column(db.DateTime, nullable=True)
    # The tombstone keeps which request erased it (policy 5.3), nothing personal.
    erasure_request_id = db.Column(db.Integer, nullable=True)
    # Optimistic locking: two staff changing the same client cannot both win.
    version = db.Column(db.Integer, nullable=False, default=1)

    agency = db.relationship("Agency", lazy="joined")
    accounts = db.relationship("ClientAccount", back_populates="client", lazy="select")
    bookings = db.relationship("Booking", back_populates="client", lazy="select")
    communications = db.relationship("Communication", back_populates="client", lazy="select")
    consents = db.relationship("Consent", back_populates="client", lazy="select")

    __mapper_args__ = {"version_id_col": version}
    # (name_key, id): a name search lists matches in name order and stops after one page. With name_key alone,
    # PostgreSQL must read and sort every client sharing the first name on the page (thousands at 1 M clients).
    __table_args__ = (db.Index("ix_client_name_key_id", "name_key", "id"),)

    def __str__(self):
        if self.status == ERASED:
            return f"#{self.id} (erased)"
        return f"#{self.id} {self.full_name or ''}".strip()


class ClientAccount(db.Model):
    """The client's account on the B2B booking site."""

    __tablename__ = "client_account"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=False, index=True)
    login = db.Column(db.String(254), nullable=False)
    registered_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime, nullable=True)
    state = db.Column(db.String(12), nullable=False, default="active")
    source = db.Column(db.String(20), nullable=False, default="registration")

    client = db.relationship("Client", back_populates="accounts")
