"""The declarative retention table: which records erasure deletes and which it depersonalises (policy 5.3).

The defaults below are what a fresh database starts with (the migration inserts them); an operator may edit
the `retention_rule` rows. A record type without a row falls back to its default here.
Periods are *to confirm per record type* (shared/policy/kz-law-notes.md): 5 years is the editable default.
"""
from dataclasses import asdict, dataclass

from sqlalchemy import select

from ..extensions import db
from ..models.retention import DELETE, DEPERSONALISE, RetentionRule
from .transaction import user_action


@dataclass(frozen=True)
class Rule:
    record_type: str
    period_years: int
    legal_reference: str
    action: str

    def as_dict(self):
        return asdict(self)


# Legal references are keys of backoffice/labels.LEGAL_REFERENCES (shown in the reader's language).
DEFAULT_RULES = (
    Rule("booking", 5, "accounting.art11", DEPERSONALISE),
    Rule("privacy_request", 5, "law94.request_proof", DEPERSONALISE),
    Rule("client", 0, "law94.client_tombstone", DEPERSONALISE),
    Rule("marketing_opt_out", 0, "policy.opt_out_hash", DEPERSONALISE),
    Rule("client_account", 0, "policy.account_deleted", DELETE),
    Rule("communication", 0, "policy.no_retention", DELETE),
    Rule("consent", 0, "policy.no_retention", DELETE),
    Rule("export_package", 0, "policy.export_deleted", DELETE),
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


@user_action
def prepare_rules():
    """The admin opens the rules: create the missing ones with their defaults, committed. Returns how many."""
    return ensure_default_rules()
