"""opt-out imports run as jobs: the run's progress, counts and row problems (issue 13)

Revision ID: import01
Revises: sys01
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'import01'
down_revision = 'sys01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('optout_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('file_bytes', sa.BigInteger(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_checked', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=True),
    sa.Column('failure', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_optout_import_created_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_optout_import')),
    sa.UniqueConstraint('upload_id', name=op.f('uq_optout_import_upload_id'))
    )
    with op.batch_alter_table('optout_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_optout_import_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('optout_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_optout_import_status'))
    op.drop_table('optout_import')
