"""The data map: every system that holds client data, and each request's task in each system (policy 5.2-5.4).

System #1 is the back-office database itself and is always present. Connection URLs and webhook secrets are
never stored: a system names the environment variables that hold them.
"""
from ..extensions import db
from .base import utcnow
from .requests import BLOCKING, RECTIFICATION, UNBLOCKING

BACKOFFICE = "backoffice"
SQL = "sql"
WEBHOOK = "webhook"
MANUAL = "manual"
KINDS = (BACKOFFICE, SQL, WEBHOOK, MANUAL)
BACKOFFICE_SYSTEM_ID = 1
HOME_COUNTRY = "KZ"
# The categories of personal data of the processing register (art. 7(4)–(5)); a system of the data map names the
# ones it holds, and the register lists each category's systems from it. A disclosure or a breach names a subset
# (models/disclosures.DATA_CATEGORIES).
PERSONAL_DATA_CATEGORIES = ("identity", "contact", "document", "employment", "booking", "account", "communications",
                            "consents", "requests")

# A system task's life: pending -> running -> done | waiting (webhook accepted, manual task open) | failed;
# waiting -> done (callback / owner confirmed) | cannot (a manager recorded why, with a legal reference).
PENDING = "pending"
RUNNING = "running"
WAITING = "waiting"
DONE = "done"
FAILED = "failed"
CANNOT = "cannot"
TASK_STATUSES = (PENDING, RUNNING, WAITING, DONE, FAILED, CANNOT)
SETTLED = (DONE, CANNOT)

# Rectification, blocking and its lifting (policy 5.2) are applied in the back-office first, by the step that
# completes them there; the other systems follow and the request completes when every one is done. Erasure,
# consent withdrawal and access go the other way (the back-office job last, services/fanout).
BACKOFFICE_FIRST = (RECTIFICATION, BLOCKING, UNBLOCKING)
# A system declares the request types it takes part in; lifting a block reaches the systems that block.
TAKES_PART_AS = {UNBLOCKING: BLOCKING}


class DataSystem(db.Model):
    """One system holding client data: who owns it, where it is, what it holds and how requests reach it."""

    __tablename__ = "data_system"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False, unique=True)
    owner = db.Column(db.String(200), nullable=False)
    kind = db.Column(db.String(12), nullable=False, default=MANUAL)
    # Request types it takes part in: erasure, consent_withdrawal, access, rectification, blocking.
    request_types = db.Column(db.JSON, nullable=False, default=list)
    data_categories = db.Column(db.Text, nullable=True)  # the owner's own description of what it holds
    # The register's categories it holds (PERSONAL_DATA_CATEGORIES): the processing register and the breach
    # register's "everyone this system may hold" read them.
    held_categories = db.Column(db.JSON, nullable=False, default=list)
    country = db.Column(db.String(2), nullable=False, default=HOME_COUNTRY)
    retention_reference = db.Column(db.String(300), nullable=True)
    # sql: the environment variable holding the SQLAlchemy URL; webhook: the one holding the HMAC secret.
    connection_env = db.Column(db.String(80), nullable=True)
    secret_env = db.Column(db.String(80), nullable=True)
    webhook_url = db.Column(db.String(500), nullable=True)
    # The declarative dataset (docs/jobs.md "Datasets"): tables, how rows are found, what each column gets.
    dataset = db.Column(db.JSON, nullable=True)
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    @property
    def outside_home_country(self):
        """Art. 12: storage outside Kazakhstan is a cross-border transfer and is flagged on the data map."""
        return (self.country or HOME_COUNTRY).upper() != HOME_COUNTRY

    def __str__(self):
        return self.name


class SystemTask(db.Model):
    """A request's work in one system: status, per-system result (counts and reasons only), who confirmed."""

    __tablename__ = "system_task"
    __table_args__ = (db.UniqueConstraint("request_id", "system_id", name="uq_system_task_request_system"),)

    id = db.Column(db.Integer, primary_key=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=False, index=True)
    system_id = db.Column(db.Integer, db.ForeignKey("data_system.id"), nullable=False, index=True)
    status = db.Column(db.String(10), nullable=False, default=PENDING, index=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    job_id = db.Column(db.String(64), nullable=True)
    result = db.Column(db.JSON, nullable=True)
    error = db.Column(db.Text, nullable=True)
    comment = db.Column(db.Text, nullable=True)
    legal_reference = db.Column(db.String(300), nullable=True)
    confirmed_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime, nullable=True)
    finished_at = db.Column(db.DateTime, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    system = db.relationship("DataSystem", lazy="joined")
    request = db.relationship("PrivacyRequest")
    confirmed_by = db.relationship("StaffUser")

    @property
    def settled(self):
        return self.status in SETTLED
