"""trgm01: trigram indexes on the free-text columns (PostgreSQL), for the erasure's check of its own work

`services/erasure_check.verify` searches the free-text columns of four tables with LIKE '%value%' after every
erasure; pg_trgm's GIN indexes make that a few index lookups instead of a read of every row (issue 16). SQLite:
nothing to do. Without GIN's pending list (fastupdate off): it is read in full by every search. The statements come from models/text_search.py as of this revision (copied, so later changes
there do not rewrite history).

Revision ID: trgm01
Revises: batch01
Create Date: 2026-12-01 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'trgm01'
down_revision = 'batch01'
branch_labels = None
depends_on = None

COLUMNS = {
    "privacy_request": ("requester_name", "requester_email", "requester_phone", "description", "outcome",
                        "rejection_reason", "extension_reason"),
    "request_event": ("comment",),
    "communication": ("subject", "body"),
    "marketing_opt_out": ("email", "phone", "reason", "removal_reason"),
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        # Not allowed here (pg_trgm is trusted from PostgreSQL 13: the database owner may create it): the check
        # after each erasure still works, reading whole tables. Ask the DBA to create it, then run this again.
        print(f"trgm01: pg_trgm not created ({type(exc.orig).__name__}); trigram indexes skipped")
        return
    # Named in the extension's own schema (it may not be on this database's search path); regnamespace::text quotes
    # the name where it needs to be.
    schema = op.get_bind().exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
    # CONCURRENTLY, outside the migration's transaction: the tables stay writable while the indexes are built
    # (minutes for a large `communication.body`).
    with op.get_context().autocommit_block():
        for table, columns in COLUMNS.items():
            for column in columns:
                op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_trgm_{table}_{column} ON {table} "
                           f"USING gin ({column} {schema}.gin_trgm_ops) WITH (fastupdate = off)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f"DROP INDEX IF EXISTS ix_trgm_{table}_{column}")
