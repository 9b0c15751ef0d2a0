"""audit log: append-only triggers, forward-only chain head, list indexes

The trigger SQL is a frozen copy of backoffice/models/audit.py (SQLITE_TRIGGERS, POSTGRES_TRIGGERS) as of this
revision; the models attach the same SQL to db.create_all() for tests and the demo.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25 12:50:03.692853

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0002'
branch_labels = None
depends_on = None


GENESIS_HASH = "0" * 64

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
SQLITE_DROP = ("DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete",
               "DROP TRIGGER IF EXISTS audit_chain_head_insert", "DROP TRIGGER IF EXISTS audit_chain_head_forward",
               "DROP TRIGGER IF EXISTS audit_chain_head_no_delete")

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
POSTGRES_DROP = ("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
                 "DROP TRIGGER IF EXISTS audit_chain_head_guard ON audit_chain_head",
                 "DROP FUNCTION IF EXISTS audit_event_append_only()",
                 "DROP FUNCTION IF EXISTS audit_chain_head_guard()")


def _run(statements):
    for sql in statements:
        op.execute(sql)


def upgrade():
    # Plain index operations (no batch): on SQLite a batch table rebuild would silently drop the triggers.
    op.drop_index('ix_audit_event_actor_id', table_name='audit_event')
    op.drop_index('ix_audit_event_request_id', table_name='audit_event')
    op.drop_index('ix_audit_event_action', table_name='audit_event')
    op.drop_index('ix_audit_event_object', table_name='audit_event')
    op.create_index('ix_audit_event_actor', 'audit_event', ['actor_id', 'id'], unique=False)
    op.create_index('ix_audit_event_action', 'audit_event', ['action', 'id'], unique=False)
    op.create_index('ix_audit_event_request', 'audit_event', ['request_id', 'id'], unique=False)
    op.create_index('ix_audit_event_object', 'audit_event', ['object_type', 'object_id', 'id'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        _run(SQLITE_TRIGGERS)
    elif dialect == 'postgresql':
        _run(POSTGRES_TRIGGERS)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        _run(SQLITE_DROP)
    elif dialect == 'postgresql':
        _run(POSTGRES_DROP)

    op.drop_index('ix_audit_event_object', table_name='audit_event')
    op.drop_index('ix_audit_event_request', table_name='audit_event')
    op.drop_index('ix_audit_event_action', table_name='audit_event')
    op.drop_index('ix_audit_event_actor', table_name='audit_event')
    op.create_index('ix_audit_event_object', 'audit_event', ['object_type', 'object_id'], unique=False)
    op.create_index('ix_audit_event_action', 'audit_event', ['action'], unique=False)
    op.create_index('ix_audit_event_request_id', 'audit_event', ['request_id'], unique=False)
    op.create_index('ix_audit_event_actor_id', 'audit_event', ['actor_id'], unique=False)
