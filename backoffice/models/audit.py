"""The append-only, hash-chained audit log (policy 4.3).

Append-only is enforced three times over, so that no single slip can rewrite history:
the ORM refuses to flush changes or deletions of an event (and bulk UPDATE/DELETE statements against the table),
and the database itself rejects UPDATE and DELETE with triggers. The triggers are created here for databases built
with ``db.create_all()`` (tests, the demo) and by migration 0005 for migrated databases; both use the SQL below.
The chain head may only move forward, one existing event at a time.
"""
from sqlalchemy import DDL, event
from sqlalchemy.orm import Session

from ..extensions import db
from .base import utcnow

GENESIS_HASH = "0" * 64


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit event (a programming error, never user input)."""


class AuditEvent(db.Model):
    """One audited action. Details carry ids, field names and counts, never personal-data values."""

    __tablename__ = "audit_event"

    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    actor_id = db.Column(db.Integer, nullable=True)
    actor_roles = db.Column(db.String(100), nullable=True)
    action = db.Column(db.String(60), nullable=False)
    object_type = db.Column(db.String(40), nullable=True)
    object_id = db.Column(db.String(40), nullable=True)
    request_id = db.Column(db.Integer, nullable=True)
    outcome = db.Column(db.String(20), nullable=False, default="success")
    ip = db.Column(db.String(45), nullable=True)
    details = db.Column(db.Text, nullable=True)
    # The chain: a fork would need two events with one prev_hash, which the unique constraint refuses.
    prev_hash = db.Column(db.String(64), nullable=False, unique=True)
    hash = db.Column(db.String(64), nullable=False, unique=True)

    # The supervisor's list filters on one of these and shows the newest first: (column, id) serves
    # "WHERE column = ? ORDER BY id DESC LIMIT 25" from the index alone, at any size of the log.
    __table_args__ = (
        db.Index("ix_audit_event_actor", "actor_id", "id"),
        db.Index("ix_audit_event_action", "action", "id"),
        db.Index("ix_audit_event_request", "request_id", "id"),
        db.Index("ix_audit_event_object", "object_type", "object_id", "id"),
    )


class AuditChainHead(db.Model):
    """A single row holding the newest hash; writers lock it, so the chain grows one event at a time."""

    __tablename__ = "audit_chain_head"

    id = db.Column(db.Integer, primary_key=True)
    last_hash = db.Column(db.String(64), nullable=False, default=GENESIS_HASH)
    count = db.Column(db.BigInteger, nullable=False, default=0)


# --- the ORM refuses -------------------------------------------------------------------------------------------

@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target):
    raise AuditLogIsAppendOnly(f"audit event {target.id} cannot be changed: the audit log is append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target):
    raise AuditLogIsAppendOnly(f"audit event {target.id} cannot be deleted: the audit log is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_statements(state):
    # Bulk update()/delete() statements skip the mapper events above; catch them before they reach the database.
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEvent.__tablename__:
        raise AuditLogIsAppendOnly("UPDATE/DELETE of audit_event refused: the audit log is append-only")


# --- the database refuses (same SQL as migration 0005) ---------------------------------------------------------

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only (policy 4.3)'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only (policy 4.3)'); END""",
    f"""CREATE TRIGGER audit_chain_head_insert BEFORE INSERT ON audit_chain_head
    WHEN NOT ((NEW.id = 1 AND NEW.last_hash = '{GENESIS_HASH}' AND NEW.count = 0
               AND NOT EXISTS (SELECT 1 FROM audit_event))
              OR EXISTS (SELECT 1 FROM audit_chain_head WHERE id = NEW.id))
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head starts at the genesis hash of an empty log'); END""",
    """CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head
    WHEN NOT (NEW.id = OLD.id AND (
              (NEW.last_hash = OLD.last_hash AND NEW.count = OLD.count)
              OR (NEW.count = OLD.count + 1 AND EXISTS (
                  SELECT 1 FROM audit_event WHERE hash = NEW.last_hash AND prev_hash = OLD.last_hash))))
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head only moves forward by one existing event'); END""",
    """CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head cannot be deleted'); END""",
)

POSTGRES_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only (policy 4.3)' USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    f"""CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            -- A second writer racing for the genesis head: its ON CONFLICT DO NOTHING (or the primary key)
            -- settles it, so the row is let through to that check.
            IF (NEW.id = 1 AND NEW.last_hash = '{GENESIS_HASH}' AND NEW.count = 0
                AND NOT EXISTS (SELECT 1 FROM audit_event))
               OR EXISTS (SELECT 1 FROM audit_chain_head WHERE id = NEW.id) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_chain_head starts at the genesis hash of an empty log'
                USING ERRCODE = 'insufficient_privilege';
        ELSIF TG_OP = 'UPDATE' THEN
            IF NEW.id = OLD.id AND (
                (NEW.last_hash = OLD.last_hash AND NEW.count = OLD.count)
                OR (NEW.count = OLD.count + 1 AND EXISTS (
                    SELECT 1 FROM audit_event WHERE hash = NEW.last_hash AND prev_hash = OLD.last_hash))) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_chain_head only moves forward by one existing event'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RAISE EXCEPTION 'audit_chain_head cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_chain_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard()""",
)


def _attach(table, statements):
    for dialect, sql in statements:
        event.listen(table, "after_create", DDL(sql).execute_if(dialect=dialect))


# Each table gets its own triggers (create order is not guaranteed); the bodies find the other table at run time.
_attach(AuditEvent.__table__, [("sqlite", sql) for sql in SQLITE_TRIGGERS[:2]]
        + [("postgresql", sql) for sql in POSTGRES_TRIGGERS[:2]])
_attach(AuditChainHead.__table__, [("sqlite", sql) for sql in SQLITE_TRIGGERS[2:]]
        + [("postgresql", sql) for sql in POSTGRES_TRIGGERS[2:]])
