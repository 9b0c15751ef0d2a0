"""client name_key,id index for name-ordered search

A name search lists matches in (name_key, id) order; this index serves it without a sort (issue 7).

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-25 13:00:11.092872

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_name_key'))
        batch_op.create_index('ix_client_name_key_id', ['name_key', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.drop_index('ix_client_name_key_id')
        batch_op.create_index(batch_op.f('ix_client_name_key'), ['name_key'], unique=False)
