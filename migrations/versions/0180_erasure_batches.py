"""batch01: a request erased in a batch names the queued job that carries the batch (issue 16)

`job_record.batch_job_id`: the RQ job that erases a batch of approved subjects (bulk approval), each subject in its
own savepoint; the request keeps a job record of its own, so the Jobs page, retries and reconcile see it as before.

Revision ID: batch01
Revises: register01
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'batch01'
down_revision = 'register01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_job_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_job_record_batch_job_id'), ['batch_job_id'], unique=False)


def downgrade():
    with op.batch_alter_table('job_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_record_batch_job_id'))
        batch_op.drop_column('batch_job_id')
