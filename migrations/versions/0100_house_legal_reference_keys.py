"""Legal references of the deadline and retention rules become keys of backoffice/labels.LEGAL_REFERENCES.

The seeded English texts are replaced by their keys, so every page and document shows them in the reader's language
with the laws' full official titles. Rows an admin rewrote by hand are left as they are (shown as written).

Revision ID: house01
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "house01"
down_revision = "0006"
branch_labels = None
depends_on = None

# A literal copy (a migration must not import application code that later changes): (seeded text, key).
KEYS = (
    ('Law 94-V art. 24(1)(1), 25(2)(6); refusal art. 25(2)(7)',
     'law94.access'),
    ('Law 94-V art. 13, 25(2)(8)',
     'law94.rectification'),
    ('Law 94-V art. 24(1)(3), 25(2)(8)',
     'law94.blocking'),
    ('Law 94-V art. 24(1)(4), 25(2)(8)',
     'law94.erasure'),
    ('Law 94-V art. 24(1)(5); exceptions art. 8(2); period to confirm',
     'law94.consent_withdrawal'),
    ('Policy 3.2.2 (immediately, no approval)',
     'policy.3_2_2'),
    ('Law 94-V art. 19; policy 4.1',
     'law94.third_party'),
    ('Law of the RK on accounting and financial reporting, art. 11 (tickets, invoices, payments)',
     'accounting.art11'),
    ('Law No. 94-V art. 25(2): proof that the request was handled',
     'law94.request_proof'),
    ('Policy 5.3; Law No. 94-V art. 24(1)(5): the row stays as a tombstone without personal data',
     'law94.client_tombstone'),
    ('Policy 3.2.2: the opt-out survives as keyed hashes only',
     'policy.opt_out_hash'),
    ('Policy 5.3: the site account is deleted',
     'policy.account_deleted'),
    ('Policy 5.3: no retention duty',
     'policy.no_retention'),
    ('Policy 5.4: export files are deleted',
     'policy.export_deleted'),
)
TABLES = ("deadline_rule", "retention_rule")


def _rewrite(pairs):
    for table in TABLES:
        statement = sa.text(f"UPDATE {table} SET legal_reference = :new WHERE legal_reference = :old")
        for old, new in pairs:
            op.execute(statement.bindparams(old=old, new=new))


def upgrade():
    _rewrite(KEYS)


def downgrade():
    _rewrite(tuple((key, text) for text, key in KEYS))
