"""The e-mail channel (policy 5.3): messages received from clients, their attachments, and letters sent to them.

What a client wrote (sender, subject, text, headers, attachments) and what we wrote back (letter bodies) is the
client's personal data: it is erased with the client. The Message-ID key (a hash) stays, so a message already
handled is never turned into a second request, even after erasure.
"""
from ..extensions import db
from .base import utcnow

# What intake did with a message.
CREATED = "created"
DUPLICATE = "duplicate"
TRIAGE = "triage"
IGNORED = "ignored"
OUTCOMES = (CREATED, DUPLICATE, TRIAGE, IGNORED)

# Where it came from.
MAIL_SOURCES = ("imap", "file", "upload", "demo")

# Triage queue states.
TRIAGE_OPEN = "open"
TRIAGE_DONE = "done"

# Outbox states.
PENDING = "pending"
SENT = "sent"
FAILED = "failed"
ERASED_LETTER = "erased"  # the client was erased before it went out: never sent
LETTER_STATUSES = (PENDING, SENT, FAILED, ERASED_LETTER)


class InboundMail(db.Model):
    """One received message, stored once per Message-ID; the evidence of the request it started."""

    __tablename__ = "inbound_mail"

    id = db.Column(db.Integer, primary_key=True)
    # sha256 of the normalised Message-ID (or of the raw bytes when it has none): exactly-once intake.
    message_key = db.Column(db.String(64), nullable=False, unique=True)
    source = db.Column(db.String(10), nullable=False, default="file")
    received_at = db.Column(db.DateTime, nullable=False)
    processed_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    outcome = db.Column(db.String(10), nullable=False)
    detected_type = db.Column(db.String(20), nullable=True)
    # Why intake decided what it did (codes, no personal data): e.g. "marker_phrase", "ambiguous", "auto_reply".
    reason = db.Column(db.String(40), nullable=True)
    language = db.Column(db.String(2), nullable=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=True, index=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    triage_status = db.Column(db.String(8), nullable=True, index=True)
    triaged_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    triaged_at = db.Column(db.DateTime, nullable=True)
    # Personal data (erased with the client).
    message_id = db.Column(db.Text, nullable=True)
    sender = db.Column(db.String(254), nullable=True)
    sender_name = db.Column(db.String(200), nullable=True)
    subject = db.Column(db.Text, nullable=True)
    body_text = db.Column(db.Text, nullable=True)
    headers = db.Column(db.Text, nullable=True)
    erased_at = db.Column(db.DateTime, nullable=True)

    attachments = db.relationship("MailAttachment", back_populates="mail", order_by="MailAttachment.id",
                                  lazy="select", cascade="all, delete-orphan")
    request = db.relationship("PrivacyRequest")

    def __str__(self):
        return f"mail #{self.id}"


class MailAttachment(db.Model):
    """An attachment of a received message; its bytes are kept up to MAIL_ATTACHMENT_MAX_BYTES, never opened."""

    __tablename__ = "mail_attachment"

    id = db.Column(db.Integer, primary_key=True)
    mail_id = db.Column(db.Integer, db.ForeignKey("inbound_mail.id"), nullable=False, index=True)
    filename = db.Column(db.String(255), nullable=True)
    content_type = db.Column(db.String(100), nullable=False, default="application/octet-stream")
    size = db.Column(db.Integer, nullable=False, default=0)
    content = db.Column(db.LargeBinary, nullable=True)  # None when larger than the limit
    kept = db.Column(db.Boolean, nullable=False, default=True)

    mail = db.relationship("InboundMail", back_populates="attachments")


class LetterTemplate(db.Model):
    """A letter to clients in one language; the admin edits it (sandboxed Jinja)."""

    __tablename__ = "letter_template"

    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(40), nullable=False)
    language = db.Column(db.String(2), nullable=False)
    subject = db.Column(db.String(300), nullable=False)
    body = db.Column(db.Text, nullable=False)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    updated_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)

    __table_args__ = (db.UniqueConstraint("key", "language", name="uq_letter_template_key_language"),)

    def __str__(self):
        return f"{self.key} ({self.language})"


class Letter(db.Model):
    """A letter to a client: the outbox row until sent, then the communication record (erased with the client)."""

    __tablename__ = "letter"

    id = db.Column(db.Integer, primary_key=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=True, index=True)
    client_id = db.Column(db.Integer, db.ForeignKey("client.id"), nullable=True, index=True)
    template = db.Column(db.String(40), nullable=False)
    language = db.Column(db.String(2), nullable=False)
    status = db.Column(db.String(8), nullable=False, default=PENDING, index=True)
    message_id = db.Column(db.String(250), nullable=False, unique=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    last_error = db.Column(db.String(200), nullable=True)  # exception class and SMTP code only
    next_attempt_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.Integer, db.ForeignKey("staff_user.id"), nullable=True)
    sent_at = db.Column(db.DateTime, nullable=True)
    resend_of_id = db.Column(db.Integer, db.ForeignKey("letter.id"), nullable=True)
    # A breach notice to an affected client (policy 4.3) has no request: it names its incident instead.
    breach_id = db.Column(db.Integer, db.ForeignKey("breach_incident.id"), nullable=True)
    # Personal data (erased with the client).
    to_address = db.Column(db.String(254), nullable=True)
    # The erasure's completion letter goes out after the client's address is erased: until sent, the address
    # is kept only encrypted (Fernet, key derived from BACKOFFICE_HASH_KEY), then dropped.
    to_address_sealed = db.Column(db.Text, nullable=True)
    subject = db.Column(db.Text, nullable=True)
    body = db.Column(db.Text, nullable=True)
    erased_at = db.Column(db.DateTime, nullable=True)

    request = db.relationship("PrivacyRequest")

    # An incident's notice of each client is found by (breach, client): linking 100,000 notices stays one index probe
    # each (services/breach_subjects.py).
    __table_args__ = (db.Index("ix_letter_breach_id_client_id", "breach_id", "client_id"),)

    def __str__(self):
        return f"letter #{self.id} {self.template}"


class DownloadLink(db.Model):
    """A public link to an export package (policy 5.4): a random token in the URL, a one-time code sent apart.

    Only hashes of the token and the code are stored; the link lives as long as the package and locks after
    DOWNLOAD_MAX_ATTEMPTS wrong codes.
    """

    __tablename__ = "download_link"

    id = db.Column(db.Integer, primary_key=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    code_hash = db.Column(db.String(64), nullable=False)
    package_id = db.Column(db.Integer, db.ForeignKey("export_package.id"), nullable=False, index=True)
    request_id = db.Column(db.Integer, db.ForeignKey("privacy_request.id"), nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    failed_attempts = db.Column(db.Integer, nullable=False, default=0)
    locked_at = db.Column(db.DateTime, nullable=True)
    downloads = db.Column(db.Integer, nullable=False, default=0)

    package = db.relationship("ExportPackage")
