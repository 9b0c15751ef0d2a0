"""The declarative retention table: which records erasure deletes and which it depersonalises (policy 5.3).

The defaults below are what a fresh database starts with (the migration inserts them); an operator may edit
the `retention_rule` rows. A record type without a row falls back to its default here.
Periods are *to confirm per record type* (shared/policy/kz-law-notes.md): 5 years is the editable default.
"""
from dataclasses import asdict, dataclass

from sqlalchemy import select

from ..extensions import db
from ..models.retention import DELETE, DEPERSONALISE, RetentionRule


@dataclass(frozen=True)
class Rule:
    record_type: str
    period_years: int
    legal_reference: str
    action: str

    def as_dict(self):
        return asdict(self)


DEFAULT_RULES = (
    Rule("booking", 5, "Law of the RK on accounting and financial reporting, art. 11 (tickets, invoices, payments)",
         DEPERSONALISE),
    Rule("privacy_request", 5, "Law No. 94-V art. 25(2): proof that the request was handled", DEPERSONALISE),
    Rule("client", 0, "Policy 5.3; Law No. 94-V art. 24(1)(5): the row stays as a tombstone without personal data",
         DEPERSONALISE),
    Rule("marketing_opt_out", 0, "Policy 3.2.2: the opt-out survives as keyed hashes only", DEPERSONALISE),
    Rule("client_account", 0, "Policy 5.3: the site account is deleted", DELETE),
    Rule("communication", 0, "Policy 5.3: no retention duty", DELETE),
    Rule("consent", 0, "Policy 5.3: no retention duty", DELETE),
    Rule("export_package", 0, "Policy 5.4: export files are deleted", DELETE),
)
RECORD_TYPES = tuple(rule.record_type for rule in DEFAULT_RULES)
# The daily retention run for everyone (issue 15): record type → (keep years, what happens after them).
# Record types without an entry are not limited in time; they go only with their owner's erasure.
DEFAULT_LIMITS = {"booking": (5, DELETE), "communication": (3, DELETE), "privacy_request": (5, DEPERSONALISE)}


def effective_rules(session=None):
    """Every record type's rule: the table's row where there is one, the default otherwise."""
    session = session or db.session
    rules = {rule.record_type: rule for rule in DEFAULT_RULES}
    for row in session.execute(select(RetentionRule)).scalars():
        rules[row.record_type] = Rule(row.record_type, row.period_years, row.legal_reference, row.action)
    return rules


def ensure_default_rules(session=None):
    """Insert the default rows that are missing (demo and fresh installs); returns how many were added."""
    session = session or db.session
    present = set(session.execute(select(RetentionRule.record_type)).scalars())
    added = 0
    for rule in DEFAULT_RULES:
        if rule.record_type not in present:
            keep_years, after_period = DEFAULT_LIMITS.get(rule.record_type, (None, None))
            session.add(RetentionRule(**rule.as_dict(), keep_years=keep_years, after_period=after_period))
            added += 1
    session.flush()
    return added
