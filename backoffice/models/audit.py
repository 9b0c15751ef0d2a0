"""The append-only, hash-chained audit log (policy 4.3)."""
from ..extensions import db
from .base import utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One audited action. Details carry ids, field names and counts, never personal-data values."""

    __tablename__ = "audit_event"

    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    actor_id = db.Column(db.Integer, nullable=True, index=True)
    actor_roles = db.Column(db.String(100), nullable=True)
    action = db.Column(db.String(60), nullable=False, index=True)
    object_type = db.Column(db.String(40), nullable=True)
    object_id = db.Column(db.String(40), nullable=True)
    request_id = db.Column(db.Integer, nullable=True, index=True)
    outcome = db.Column(db.String(20), nullable=False, default="success")
    ip = db.Column(db.String(45), nullable=True)
    details = db.Column(db.Text, nullable=True)
    # The chain: a fork would need two events with one prev_hash, which the unique constraint refuses.
    prev_hash = db.Column(db.String(64), nullable=False, unique=True)
    hash = db.Column(db.String(64), nullable=False, unique=True)

    __table_args__ = (db.Index("ix_audit_event_object", "object_type", "object_id"),)


class AuditChainHead(db.Model):
    """A single row holding the newest hash; writers lock it, so the chain grows one event at a time."""

    __tablename__ = "audit_chain_head"

    id = db.Column(db.Integer, primary_key=True)
    last_hash = db.Column(db.String(64), nullable=False, default=GENESIS_HASH)
    count = db.Column(db.BigInteger, nullable=False, default=0)
