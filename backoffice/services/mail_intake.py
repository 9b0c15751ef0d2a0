"""Turn a client's e-mail into a privacy request (policy 5.3 channel), exactly once per Message-ID.

One message, one transaction: the stored message (evidence), its attachments, the request it starts and the
audit events commit together, so a crash leaves either nothing (the message is read again next time) or all of
it (the next read sees the Message-ID and answers "duplicate"). A message whose intent is unclear goes to the
triage queue for support; nothing is dropped. An auto-reply, bounce or bulk mail is recorded as "ignored".
"""
import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..identifiers import InvalidIdentifier, normalise_email
from ..models.base import utcnow
from ..models.mail import (
    CREATED, DUPLICATE, IGNORED, TRIAGE, TRIAGE_DONE, TRIAGE_OPEN, InboundMail, Letter, MailAttachment,
)
from ..models.requests import REQUEST_TYPES, PrivacyRequest
from . import audit, intent, mail_message
from .intake import create_request
from .lifecycle import InvalidInput, WorkflowError

logger = logging.getLogger("backoffice.mail")

DESCRIPTION_CHARS = 1500


@dataclass(frozen=True)
class IntakeResult:
    outcome: str
    message_id: str | None
    request_id: int | None = None
    type: str | None = None
    mail_id: int | None = None
    reason: str | None = None

    def as_dict(self):
        return {"message_id": self.message_id, "outcome": self.outcome, "request_id": self.request_id,
                "type": self.type}


class TriageError(WorkflowError):
    """A triage decision that cannot be taken (already decided, unknown type)."""


def arrival_time(parsed, hint=None, now=None):
    """When the message reached us: the IMAP arrival time, else the top Received header, else Date; bounded.

    A time in the future becomes now; one older than MAIL_MAX_AGE_DAYS (a wrong clock or a forged header) also
    becomes now, so the statutory clock never starts before a plausible arrival.
    """
    now = now or utcnow()
    earliest = now - dt.timedelta(days=current_app.config["MAIL_MAX_AGE_DAYS"])
    for candidate in (hint, parsed.arrived, parsed.date):
        if candidate is None:
            continue
        if candidate.tzinfo is not None:
            candidate = candidate.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if candidate > now:
            return now
        if candidate < earliest:
            continue
        return candidate
    return now


def decide(parsed):
    """(request type or None, reason code) for a parsed message."""
    if parsed.auto_reason:
        return None, parsed.auto_reason
    own = (current_app.config.get("MAIL_FROM") or "").lower()
    if own and parsed.sender and parsed.sender.lower() == own:
        return None, "own_letter"
    found = intent.detect("\n".join((_strip_prefixes(parsed.subject), parsed.new_text)))
    if found.type:
        return found.type, found.reason
    if found.reason == intent.AMBIGUOUS:
        return None, intent.AMBIGUOUS
    history = intent.detect(parsed.quoted_text)
    if parsed.forwarded and history.type:
        return history.type, "forwarded_" + history.reason
    if history.type or history.reason == intent.AMBIGUOUS:
        return None, "request_in_quoted_text"
    return None, intent.NOTHING


def _strip_prefixes(subject):
    words = subject.split(":")
    while len(words) > 1 and words[0].strip().lower() in ("re", "fw", "fwd", "на", "ответ", "пересл", "жауап"):
        words = words[1:]
    return ":".join(words)


@contextmanager
def _link_new_request(mail):
    """Point `mail` at the request created inside the block, in the same transaction (no second commit)."""
    session = db.session()
    created = []

    def collect(sess, _context):
        created.extend(o for o in sess.new if isinstance(o, PrivacyRequest))

    def link(sess, _context):
        if created and mail.request_id is None:
            mail.request_id = created[0].id

    event.listen(session, "after_flush", collect)
    event.listen(session, "after_flush_postexec", link)
    try:
        yield
    finally:
        event.remove(session, "after_flush", collect)
        event.remove(session, "after_flush_postexec", link)


def _clean_sender(parsed):
    if not parsed.sender:
        return None
    try:
        return normalise_email(parsed.sender)
    except InvalidIdentifier:
        return None


def _description(parsed):
    text = " ".join(f"{parsed.subject}\n{parsed.new_text}".split())
    return text[:DESCRIPTION_CHARS] or None


def _new_mail(parsed, source, received_at, outcome, request_type, reason):
    limit = current_app.config["MAIL_ATTACHMENT_MAX_BYTES"]
    mail = InboundMail(
        message_key=parsed.message_key, source=source, received_at=received_at, processed_at=utcnow(),
        outcome=outcome, detected_type=request_type, reason=reason, language=intent.language_of(parsed.text),
        message_id=parsed.message_id, sender=_clean_sender(parsed) or (parsed.sender or "")[:254] or None,
        sender_name=parsed.sender_name, subject=parsed.subject, body_text=parsed.text[:mail_message.MAX_TEXT_CHARS],
        headers=parsed.headers_text, triage_status=TRIAGE_OPEN if outcome == TRIAGE else None,
    )
    for item in parsed.attachments:
        kept = item.content is not None and item.size <= limit
        mail.attachments.append(MailAttachment(filename=item.filename, content_type=item.content_type,
                                               size=item.size, content=item.content if kept else None, kept=kept))
    return mail


def _already_seen(key):
    return db.session.execute(select(InboundMail.id, InboundMail.request_id, InboundMail.detected_type)
                              .where(InboundMail.message_key == key)).first()


def _reply_to_request(parsed):
    if not parsed.in_reply_to:
        return None
    return db.session.execute(select(Letter.request_id).where(Letter.message_id.in_(parsed.in_reply_to))
                              .limit(1)).scalar()


def receive(raw, source="file", arrived=None):
    """Record one message and start its request (or queue it for triage); an IntakeResult, never an exception
    for anything the sender controls."""
    try:
        parsed = mail_message.parse(raw, current_app.config["MAIL_ATTACHMENT_MAX_BYTES"])
    except Exception as exc:  # the stdlib parser is lenient; this is the last line, so a poll never stops
        logger.warning("unreadable message (%s)", type(exc).__name__)
        parsed = mail_message.unreadable(raw)
    seen = _already_seen(parsed.message_key)
    if seen is not None:
        return IntakeResult(DUPLICATE, parsed.message_id, request_id=seen.request_id, type=seen.detected_type,
                            mail_id=seen.id)
    received_at = arrival_time(parsed, arrived)
    request_type, reason = decide(parsed)
    try:
        if request_type is None:
            return _record_without_request(parsed, source, received_at, reason)
        return _record_with_request(parsed, source, received_at, request_type, reason)
    except IntegrityError:
        db.session.rollback()  # another poller stored the same Message-ID a moment ago
        seen = _already_seen(parsed.message_key)
        return IntakeResult(DUPLICATE, parsed.message_id, request_id=seen.request_id if seen else None,
                            type=seen.detected_type if seen else None, mail_id=seen.id if seen else None)


def _record_without_request(parsed, source, received_at, reason, suggested_type=None):
    outcome = IGNORED if reason in ("auto_reply", "bulk", "bounce", "own_letter") else TRIAGE
    mail = _new_mail(parsed, source, received_at, outcome, suggested_type, reason)
    mail.request_id = _reply_to_request(parsed) if outcome == TRIAGE else None
    db.session.add(mail)
    db.session.flush()
    audit.record("mail.receive", object_type="inbound_mail", object_id=mail.id, request_id=mail.request_id,
                 details={"outcome": outcome, "reason": reason, "source": source,
                          "attachments": len(mail.attachments)})
    db.session.commit()
    return IntakeResult(outcome, parsed.message_id, request_id=mail.request_id, type=suggested_type, mail_id=mail.id,
                        reason=reason)


def _record_with_request(parsed, source, received_at, request_type, reason):
    mail = _new_mail(parsed, source, received_at, CREATED, request_type, reason)
    db.session.add(mail)
    db.session.flush()
    audit.record("mail.receive", object_type="inbound_mail", object_id=mail.id,
                 details={"outcome": CREATED, "reason": reason, "source": source, "type": request_type,
                          "attachments": len(mail.attachments)})
    sender = _clean_sender(parsed)
    try:
        with _link_new_request(mail):
            req = create_request(by=None, type=request_type, channel="email", requester_email=sender,
                                 requester_name=parsed.sender_name, description=_description(parsed),
                                 received_at=received_at)
    except InvalidInput:
        # A rectification needs the new values, an opt-out a usable address: support completes it from triage,
        # with the kind we found suggested and the receipt time of the message.
        db.session.rollback()
        return _record_without_request(parsed, source, received_at, "needs_details", suggested_type=request_type)
    mail = db.session.get(InboundMail, mail.id)
    if mail.client_id is None and req.client_id is not None:
        mail.client_id = req.client_id
        db.session.commit()
    return IntakeResult(CREATED, parsed.message_id, request_id=req.id, type=request_type, mail_id=mail.id,
                        reason=reason)


# --- the triage queue -----------------------------------------------------------------------------------------------

def open_triage(limit=100):
    return db.session.execute(select(InboundMail).where(InboundMail.triage_status == TRIAGE_OPEN)
                              .order_by(InboundMail.received_at, InboundMail.id).limit(limit)).scalars().all()


def mails_of(request_id):
    return db.session.execute(select(InboundMail).where(InboundMail.request_id == request_id)
                              .order_by(InboundMail.id)).scalars().all()


def read_mail(mail_id, by):
    """The stored message for a staff member who may handle requests; the read is audited (personal data)."""
    mail = db.session.get(InboundMail, mail_id)
    if mail is None:
        return None
    audit.record("mail.read", object_type="inbound_mail", object_id=mail.id, request_id=mail.request_id,
                 details={"fields": ["sender", "subject", "body_text", "headers", "attachments"]}, actor=by)
    db.session.commit()
    return mail


def read_attachment(mail_id, attachment_id, by):
    attachment = db.session.get(MailAttachment, attachment_id)
    if attachment is None or attachment.mail_id != mail_id or not attachment.kept:
        return None
    audit.record("mail.attachment_read", object_type="mail_attachment", object_id=attachment.id,
                 request_id=attachment.mail.request_id, details={"mail_id": mail_id}, actor=by)
    db.session.commit()
    return attachment


def resolve_triage(mail_id, request_type, by, version_check=True):
    """Support's decision on a triaged message: start a request of `request_type`, or dismiss it (type None)."""
    mail = db.session.get(InboundMail, mail_id)
    if mail is None or mail.triage_status != TRIAGE_OPEN:
        raise TriageError(_l("This message was already handled. Reload the triage queue."))
    if request_type is not None and request_type not in REQUEST_TYPES:
        raise TriageError(_l("Not a valid choice."), {"type": _l("Not a valid choice.")})
    mail.triage_status, mail.triaged_by_id, mail.triaged_at = TRIAGE_DONE, by.id, utcnow()
    if request_type is None:
        audit.record("mail.triage_dismiss", object_type="inbound_mail", object_id=mail.id, actor=by,
                     details={"reason": mail.reason})
        db.session.commit()
        return None
    mail.detected_type = request_type
    audit.record("mail.triage_request", object_type="inbound_mail", object_id=mail.id, actor=by,
                 details={"type": request_type})
    sender = None
    try:
        sender = normalise_email(mail.sender) if mail.sender else None
    except InvalidIdentifier:
        pass
    description = " ".join(f"{mail.subject or ''}\n{mail.body_text or ''}".split())[:DESCRIPTION_CHARS] or None
    mail.request_id = None
    with _link_new_request(mail):
        req = create_request(by=by, type=request_type, channel="email", requester_email=sender,
                             requester_name=mail.sender_name, description=description, received_at=mail.received_at)
    mail = db.session.get(InboundMail, mail_id)
    if mail.client_id is None and req.client_id is not None:
        mail.client_id = req.client_id
        db.session.commit()
    return req
