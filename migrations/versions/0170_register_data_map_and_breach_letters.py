"""register: the data map's held categories feed the processing register; breach notices in the letter outbox

`data_system.held_categories` (the processing register's categories a system holds; the back-office database holds
all of them), `letter.breach_id` (a breach notice names its incident, not a request) and
`breach_affected_client.letter_id` (the one notice queued for that client). Issue 15.

Revision ID: register01
Revises: import01
Create Date: 2026-12-10 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'register01'
down_revision = 'import01'
branch_labels = None
depends_on = None

# A copy of models.systems.PERSONAL_DATA_CATEGORIES, so later code changes do not rewrite history.
ALL_CATEGORIES = ["identity", "contact", "document", "employment", "booking", "account", "communications",
                  "consents", "requests"]


def upgrade():
    with op.batch_alter_table('data_system', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_categories', sa.JSON(), nullable=True))
    systems = sa.table("data_system", sa.column("kind", sa.String), sa.column("held_categories", sa.JSON))
    # The back-office database holds every category of the register; other systems start with none recorded,
    # which the register and the Systems view flag until the admin records them.
    op.execute(systems.update().where(systems.c.kind == "backoffice").values(held_categories=ALL_CATEGORIES))
    op.execute(systems.update().where(systems.c.kind != "backoffice").values(held_categories=[]))
    with op.batch_alter_table('data_system', schema=None) as batch_op:
        batch_op.alter_column('held_categories', existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('breach_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_letter_breach_id_client_id', ['breach_id', 'client_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_letter_breach_id_breach_incident'), 'breach_incident',
                                    ['breach_id'], ['id'])

    with op.batch_alter_table('breach_affected_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('letter_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_breach_affected_client_letter_id_letter'), 'letter',
                                    ['letter_id'], ['id'])


def downgrade():
    with op.batch_alter_table('breach_affected_client', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_breach_affected_client_letter_id_letter'), type_='foreignkey')
        batch_op.drop_column('letter_id')

    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_letter_breach_id_breach_incident'), type_='foreignkey')
        batch_op.drop_index('ix_letter_breach_id_client_id')
        batch_op.drop_column('breach_id')

    with op.batch_alter_table('data_system', schema=None) as batch_op:
        batch_op.drop_column('held_categories')
