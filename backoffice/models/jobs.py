"""Background jobs as the database sees them: the source of truth when Redis forgets (policy 5.2–5.4)."""
from ..extensions import db
from .base import utcnow

QUEUED = "queued"
STARTED = "started"
RETRYING = "retrying"
FINISHED = "finished"
FAILED = "failed"
LOST = "lost"  # Redis no longer knows the job, or its worker died; reconcile queued a new one
JOB_STATUSES = (QUEUED, STARTED, RETRYING, FINISHED, FAILED, LOST)
OPEN_JOB_STATUSES = (QUEUED, STARTED, RETRYING)


class JobRecord(db.Model):
    """One queued job, keyed by its RQ job id. Error text never carries personal data.

    A request carried out in a batch (bulk approval, issue 16) has a record of its own, keyed by its own id, whose
    `batch_job_id` names the one queued job that carries out the whole batch: the queue knows that id, not this one.
    """

    __tablename__ = "job_record"

    id = db.Column(db.String(64), primary_key=True)
    kind = db.Column(db.String(20), nullable=False, index=True)
    func = db.Column(db.String(120), nullable=False)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=True, index=True)
    batch_job_id = db.Column(db.String(64), nullable=True, index=True)
    status = db.Column(db.String(10), nullable=False, default=QUEUED, index=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text, nullable=True)
    worker = db.Column(db.String(120), nullable=True)
    enqueued_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    started_at = db.Column(db.DateTime, nullable=True)
    ended_at = db.Column(db.DateTime, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    request = db.relationship("PrivacyRequest")

    @property
    def queue_job_id(self):
        """The id the queue knows this job by: the batch's job for a member of a batch, else its own."""
        return self.batch_job_id or self.id


class ExportPackage(db.Model):
    """A ZIP of everything held about a client (policy 5.4), stored under EXPORT_DIR until it expires."""

    __tablename__ = "export_package"

    id = db.Column(db.Integer, primary_key=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=False, index=True)
    path = db.Column(db.String(500), nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    size = db.Column(db.BigInteger, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False, index=True)
    deleted_at = db.Column(db.DateTime, nullable=True)
    download_count = db.Column(db.Integer, nullable=False, default=0)

    request = db.relationship("PrivacyRequest")

    @property
    def available(self):
        return self.deleted_at is None and self.expires_at > utcnow()
