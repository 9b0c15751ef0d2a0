"""The marketing suppression list (policy 3.2.2)."""
from ..extensions import db
from .base import utcnow
from .clients import Client
from .consent import Consent

CHANNELS = ("email", "sms", "phone", "all")
# "consent_withdrawal": added because the client withdrew marketing consent (the two stay consistent).
SOURCES = ("privacy_request", "unsubscribe_link", "staff_entry", "import", "consent_withdrawal")


class MarketingOptOut(db.Model):
    """Someone who must not receive marketing. The keyed hashes survive the client's erasure."""

    __tablename__ = "marketing_opt_out"

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=True)
    email_hash = db.Column(db.String(64), nullable=True, index=True)
    phone = db.Column(db.String(20), nullable=True)
    phone_hash = db.Column(db.String(64), nullable=True, index=True)
    channel = db.Column(db.String(8), nullable=False, default="all")
    source = db.Column(db.String(20), nullable=False, default="staff_entry")
    reason = db.Column(db.Text, nullable=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    # Indexed: an erasure's self-check reads the opt-outs linked to the client's requests (issue 16).
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=True, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    removed_at = db.Column(db.DateTime, nullable=True)
    removed_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    removal_reason = db.Column(db.Text, nullable=True)

    client = db.relationship("Client")
    created_by = db.relationship("StaffUser", foreign_keys=[created_by_id])
    removed_by = db.relationship("StaffUser", foreign_keys=[removed_by_id])

    @property
    def active(self):
        return self.removed_at is None

    def __str__(self):
        return f"#{self.id} {self.channel}"



# An opt-out import's run (services/optout_import_runs.py): waiting, checking every row, importing in batches, then
# done, refused (a bad row: nothing imported) or failed.
IMPORT_QUEUED, IMPORT_CHECKING, IMPORT_IMPORTING = "queued", "checking", "importing"
IMPORT_DONE, IMPORT_REFUSED, IMPORT_FAILED = "done", "refused", "failed"
IMPORT_OPEN_STATUSES = (IMPORT_QUEUED, IMPORT_CHECKING, IMPORT_IMPORTING)
IMPORT_STATUSES = (*IMPORT_OPEN_STATUSES, IMPORT_DONE, IMPORT_REFUSED, IMPORT_FAILED)


class OptOutImport(db.Model):
    """One CSV import of opt-outs run as a job: progress, counts and row problems — never an address.

    The file itself sits under instance/optout-imports/<upload_id>.csv until the run ends. `rows_done` moves in the
    same transaction as each imported batch, so it is exactly where an interrupted run goes on from.
    """

    __tablename__ = "optout_import"

    id = db.Column(db.Integer, primary_key=True)
    upload_id = db.Column(db.String(32), nullable=False, unique=True)
    status = db.Column(db.String(10), nullable=False, default=IMPORT_QUEUED, index=True)
    job_id = db.Column(db.String(64), nullable=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    file_bytes = db.Column(db.BigInteger, nullable=False, default=0)
    rows_total = db.Column(db.Integer, nullable=False, default=0)  # counted at upload; exact once checked
    rows_checked = db.Column(db.Integer, nullable=False, default=0)
    rows_done = db.Column(db.Integer, nullable=False, default=0)
    added = db.Column(db.Integer, nullable=False, default=0)
    merged = db.Column(db.Integer, nullable=False, default=0)  # already on the list for that channel
    rejected = db.Column(db.Integer, nullable=False, default=0)
    # [{"line": n, "message": {language: text}}]: at most MAX_ERRORS_SHOWN, naming the column, never the value.
    problems = db.Column(db.JSON, nullable=True)
    failure = db.Column(db.String(20), nullable=True)  # a code of labels.IMPORT_FAILURES
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime, nullable=True)
    ended_at = db.Column(db.DateTime, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)  # the run's heartbeat

    created_by = db.relationship("StaffUser")

    @property
    def is_open(self):
        return self.status in IMPORT_OPEN_STATUSES

# Indexes that serve the campaign scrub (services/scrub.py), declared here beside the capability that needs them:
# each probe of a recipient's address is then answered from the index alone (status and id; the open marketing
# consent) — an index-only scan on PostgreSQL — without reading the wide client and consent rows.
db.Index("ix_client_email_norm_status", Client.email_norm, Client.status, Client.id)
db.Index("ix_client_phone_e164_status", Client.phone_e164, Client.status, Client.id)
db.Index("ix_consent_client_purpose_open", Consent.client_id, Consent.purpose, Consent.withdrawn_at)
