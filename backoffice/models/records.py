"""Records that hold a client's personal data besides the client row (policy 2.1)."""
from ..extensions import db
from .base import utcnow


class Booking(db.Model):
    """A ticket booking: a financial record the law makes the airline keep (depersonalised, not deleted)."""

    __tablename__ = "booking"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    pnr = db.Column(db.String(6), nullable=False, index=True)
    origin = db.Column(db.String(3), nullable=False)
    destination = db.Column(db.String(3), nullable=False)
    flight_date = db.Column(db.Date, nullable=False)
    passenger_name = db.Column(db.String(200), nullable=True)
    document_number = db.Column(db.String(20), nullable=True)
    amount = db.Column(db.Numeric(12, 2), nullable=False)
    currency = db.Column(db.String(3), nullable=False, default="KZT")
    issued_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    source = db.Column(db.String(20), nullable=False, default="service_use")
    depersonalised_at = db.Column(db.DateTime, nullable=True)

    client = db.relationship("Client", back_populates="bookings")

    @property
    def route(self):
        return f"{self.origin}–{self.destination}"


class Communication(db.Model):
    """A support message to or from the client."""

    __tablename__ = "communication"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=False, index=True)
    channel = db.Column(db.String(10), nullable=False, default="email")
    direction = db.Column(db.String(8), nullable=False, default="inbound")
    subject = db.Column(db.String(200), nullable=True)
    body = db.Column(db.Text, nullable=True)
    sent_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    source = db.Column(db.String(20), nullable=False, default="service_use")

    client = db.relationship("Client", back_populates="communications")
