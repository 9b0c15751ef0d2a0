"""trgm02: one trigram index per table on its free-text columns together (PostgreSQL)

trgm01 indexed each free-text column on its own, so the erasure's self-check made one index lookup per value and
column (a batch of 25 erasures: ~900 on privacy_request's seven columns, 550 ms). One index on the columns joined
into one text answers the same search with one lookup per value (75 ms). The expression is the one
models/text_search.free_text_sql gives as of this revision (copied, so later changes there do not rewrite
history); the search uses the same text. SQLite: nothing to do. Built CONCURRENTLY: the tables stay writable.

Revision ID: trgm02
Revises: trgm01
Create Date: 2026-12-01 20:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'trgm02'
down_revision = 'trgm01'
branch_labels = None
depends_on = None

COLUMNS = {
    "privacy_request": ("requester_name", "requester_email", "requester_phone", "description", "outcome",
                        "rejection_reason", "extension_reason"),
    "request_event": ("comment",),
    "communication": ("subject", "body"),
    "marketing_opt_out": ("email", "phone", "reason", "removal_reason"),
}


def _schema():
    """pg_trgm's schema, or None where trgm01 could not create the extension (then there is nothing to index)."""
    return op.get_bind().exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()


def _build(name, table, expression, schema):
    """CREATE INDEX CONCURRENTLY that survives a re-run: an index a cancelled build left INVALID is dropped and built
    again; returns whether the index is valid (only then may the indexes it replaces go)."""
    valid = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s"
    bind = op.get_bind()
    if bind.exec_driver_sql(valid, (name,)).scalar() is False:
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
               f"USING gin ({expression} {schema}.gin_trgm_ops) WITH (fastupdate = off)")
    return bool(bind.exec_driver_sql(valid, (name,)).scalar())


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    if schema is None:
        print("trgm02: pg_trgm is not installed; trigram indexes skipped (see trgm01)")
        return
    with op.get_context().autocommit_block():
        for table, columns in COLUMNS.items():
            expression = "(" + " || ' ' || ".join(f"coalesce({column}, '')" for column in columns) + ")"
            if _build(f"ix_trgm_{table}_free_text", table, expression, schema):
                for column in columns:
                    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS ix_trgm_{table}_{column}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    if schema is None:
        return
    with op.get_context().autocommit_block():
        for table, columns in COLUMNS.items():
            if all([_build(f"ix_trgm_{table}_{column}", table, column, schema) for column in columns]):
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS ix_trgm_{table}_free_text")
