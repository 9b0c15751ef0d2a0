"""Letters to the client about their request (policy 5.2–5.4): queued with the step, sent by the outbox job.

A letter is written into the outbox table in the same transaction as the lifecycle step that calls for it
(acknowledgement on receipt, identity check asked, completion, refusal, extension, block placed/lifted), so a step
never happens without its letter. `send_due` delivers pending letters over SMTP; a failure only moves
`next_attempt_at` on (MAIL_RETRY_SECONDS), so SMTP being down delays letters but never loses one. Without SMTP
settings letters are written to MAIL_OUTBOX_DIR as .eml files (demo, development). Each sent letter is on the
request's timeline (template, language, Message-ID); its body stays as the communication record until the client
is erased.
"""
import base64
import datetime as dt
import hashlib
import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, insert, literal, or_, select, update

from .. import labels, system_notes
from ..extensions import db
from ..models.base import utcnow
from ..models.breaches import BreachAffectedClient
from ..models.clients import ERASED, Client
from ..models.mail import FAILED, PENDING, SENT, InboundMail, Letter
from ..models.requests import (
    ACCESS, BLOCKING, CONSENT_WITHDRAWAL, ERASURE, MARKETING_OPT_OUT, UNBLOCKING, PrivacyRequest, RequestEvent,
)
from . import audit, letter_templates

logger = logging.getLogger("backoffice.mail")

SEND_BATCH = 50
# Permanent SMTP refusals (mailbox unknown, policy): retried a few times, then left for staff to resend.
PERMANENT_AFTER_ATTEMPTS = 5


class LetterError(Exception):
    """A letter action that cannot be taken; `message` is translatable."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# --- which step calls for which letter ------------------------------------------------------------------------------

def letters_for_step(req, action):
    """Template keys a lifecycle step calls for (erasure completion is queued by the erasure itself)."""
    if action == "create":
        if req.type == MARKETING_OPT_OUT:
            return []  # completed at once: the completion letter says so
        keys = ["acknowledgement"]
        if req.client_id is None:
            keys.append("identity_verification")
        return keys
    if action == "reject":
        return ["refusal"]
    if action == "extend_deadline":
        return ["extension"]
    if action == "complete":
        if req.type in (ERASURE, CONSENT_WITHDRAWAL):
            return []  # written by the erasure, which knows what was deleted (queue_erasure_completion)
        if req.type == ACCESS:
            return []  # the download link letters carry the completion (letter_triggers, download_links.offer)
        if req.type == BLOCKING:
            return ["block_placed"]
        if req.type == UNBLOCKING:
            return ["block_lifted"]
        return ["completion"]
    return []


def local_time_text(value, with_time=True):
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["BACKOFFICE_TIMEZONE"])
    local = value.replace(tzinfo=dt.timezone.utc).astimezone(zone)
    return local.strftime("%d.%m.%Y %H:%M" if with_time else "%d.%m.%Y")


def language_for(req, client=None):
    """The client's preferred language; else the language the request was written in; else Russian."""
    if client is not None and client.preferred_language in letter_templates.LANGUAGES:
        return client.preferred_language
    # The message may still be unflushed in this very transaction (intake): look in the session first.
    written = next((obj.language for obj in list(db.session.identity_map.values())
                    if isinstance(obj, InboundMail) and obj.request_id == req.id), None)
    if written is None:
        written = db.session.execute(select(InboundMail.language).where(InboundMail.request_id == req.id)
                                     .order_by(InboundMail.id).limit(1)).scalar()
    return written if written in letter_templates.LANGUAGES else "ru"


def context_for(req, **extra):
    """Everything a template may use, as plain strings (the sandbox sees no model objects)."""
    payload = req.payload or {}
    values = {key: "" for key in letter_templates.DEMO_CONTEXT}
    values.update({"number": str(req.id), "type": req.type, "received": local_time_text(req.received_at),
                   "due": local_time_text(req.due_at), "reason": req.rejection_reason or req.extension_reason or "",
                   "legal_basis": "", "partial": False, "deleted": [], "kept": [],
                   "until": payload.get("blocked_until") or ""})
    values.update(extra)
    return values


def _mail_domain():
    return (current_app.config.get("MAIL_FROM") or "backoffice.local").rsplit("@", 1)[-1]


def _new_message_id():
    return f"<letter-{uuid.uuid4().hex}@{_mail_domain()}>"


def _fernet():
    # Imported here: OpenSSL's bindings (~7 MiB) only in a process that seals or opens an address.
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"letter-address-seal:" + current_app.config["BACKOFFICE_HASH_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(address):
    return _fernet().encrypt(address.encode()).decode("ascii")


def unseal(token):
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        return None


def recipient(letter):
    return letter.to_address or (unseal(letter.to_address_sealed) if letter.to_address_sealed else None)


def queue(req, key, *, to_address=None, client=None, by=None, session=None, sealed=False, **extra):
    """Put one letter in the outbox in the caller's transaction; None when there is no address to write to.

    `sealed`: the address is kept only encrypted (the client is being erased in this transaction).
    """
    session = session or db.session
    if client is None and req.client_id is not None:
        client = session.get(Client, req.client_id)
    address = to_address or (client.email if client is not None and client.status != ERASED else None) \
        or req.requester_email
    if not address:
        return None
    language = language_for(req, client)
    subject, body = letter_templates.render(key, language, context_for(req, **extra))
    letter = Letter(request_id=req.id, client_id=req.client_id, template=key, language=language,
                    status=PENDING, message_id=_new_message_id(), to_address=None if sealed else address,
                    to_address_sealed=seal(address) if sealed else None, subject=subject, body=body,
                    created_by_id=by.id if by else None, next_attempt_at=utcnow(),
                    erased_at=utcnow() if sealed else None)
    session.add(letter)
    return letter


# --- one letter to many clients ------------------------------------------------------------------------------------

def language_condition(language):
    """Clients whose letters are written in `language`: their preferred one, else Russian (as `language_for`)."""
    if language == "ru":
        return or_(Client.preferred_language.is_(None),
                   Client.preferred_language.not_in([lang for lang in letter_templates.LANGUAGES if lang != "ru"]))
    return Client.preferred_language == language


def writable_clients(client_ids):
    """The clients of `client_ids` (a SELECT of ids) a letter can go to: not erased, with an e-mail address."""
    return select(Client.id).where(Client.id.in_(client_ids), Client.status != ERASED, Client.email.is_not(None),
                                   Client.email != "")


def queue_to_clients(key, client_ids, contexts, *, by=None, breach_id=None):
    """One letter per client of `client_ids` (a SELECT of ids) into the outbox, each in the client's language, in
    the caller's transaction; {language: letters queued}.

    Set-based (one INSERT ... SELECT per language, whatever the number of clients): the text is rendered once per
    language from `contexts[language]`, so it must not carry any one client's data. Clients without an e-mail
    address, and erased clients, get nothing.
    """
    token, domain, now = uuid.uuid4().hex, _mail_domain(), utcnow()
    queued = {}
    for language in letter_templates.LANGUAGES:
        subject, body = letter_templates.render(key, language, contexts[language])
        chosen = writable_clients(client_ids).where(language_condition(language))
        count = db.session.execute(select(func.count()).select_from(chosen.subquery())).scalar()
        if not count:
            continue
        rows = select(Client.id, literal(key), literal(language), literal(PENDING),
                      literal(f"<letter-{token}-") + cast(Client.id, String) + literal(f"@{domain}>"),
                      literal(0), literal(now), literal(now), literal(by.id if by else None, type_=db.Integer),
                      Client.email, literal(subject), literal(body), literal(breach_id, type_=db.Integer)) \
            .where(Client.id.in_(chosen))
        db.session.execute(insert(Letter.__table__).from_select(
            ["client_id", "template", "language", "status", "message_id", "attempts", "next_attempt_at",
             "created_at", "created_by_id", "to_address", "subject", "body", "breach_id"], rows))
        queued[language] = count
    return queued


# --- the erasure's own letter ---------------------------------------------------------------------------------------

def queue_erasure_completion(privacy_request, certificate, address):
    """What was deleted and what the law keeps and why (policy 5.3; art. 8(2)), to the address held before erasure."""
    if not address:
        return None
    deleted = sorted(certificate.get("deleted", {}))
    kept = [(e["record_type"], e["legal_reference"]) for e in certificate.get("exceptions", [])]
    kept += [(name, "depersonalised") for name in sorted(certificate.get("depersonalised", {}))
             if name not in ("client", "privacy_request", "marketing_opt_out")]
    return queue(privacy_request, "completion", to_address=address, sealed=True, deleted=deleted, kept=kept)


# --- sending --------------------------------------------------------------------------------------------------------

def smtp_configured(config=None):
    return bool((config or current_app.config).get("MAIL_SMTP_HOST"))


def _as_email(letter):
    config = current_app.config
    msg = EmailMessage()
    msg["From"] = config["MAIL_FROM"]
    msg["To"] = recipient(letter)
    msg["Subject"] = letter.subject
    msg["Message-ID"] = letter.message_id
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Auto-Submitted"] = "auto-generated"  # our own intake ignores it, other robots don't answer it
    msg.set_content(letter.body)
    msg["Content-Language"] = letter.language  # after set_content, which drops Content-* headers
    return msg


def _smtp_send(msg):
    config = current_app.config
    host, port, mode = config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], config["MAIL_SMTP_TLS"]
    timeout = config["MAIL_TIMEOUT_SECONDS"]
    if mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if mode == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_SMTP_USER"):
            smtp.login(config["MAIL_SMTP_USER"], config.get("MAIL_SMTP_PASSWORD") or "")
        smtp.send_message(msg)


def outbox_path(letter):
    return Path(current_app.config["MAIL_OUTBOX_DIR"]) / f"letter-{letter.id:08d}-{letter.template}.eml"


def _write_outbox_file(letter, msg):
    path = outbox_path(letter)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msg.as_bytes())
    tmp.replace(path)


def _error_code(exc):
    code = getattr(exc, "smtp_code", None)
    if code is None and isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [value[0] for value in exc.recipients.values()]
        code = codes[0] if codes else None
    return code


def _deliver(letter):
    msg = _as_email(letter)
    if smtp_configured():
        _smtp_send(msg)
        return "smtp"
    _write_outbox_file(letter, msg)
    return "outbox_dir"


def _record_sent(letter, via):
    letter.status, letter.sent_at, letter.last_error = SENT, utcnow(), None
    if letter.request_id is not None:
        status = db.session.execute(select(PrivacyRequest.status)
                                    .where(PrivacyRequest.id == letter.request_id)).scalar()
        db.session.add(RequestEvent(request_id=letter.request_id, action="letter_sent", from_status=status,
                                    to_status=status,
                                    comment=system_notes.note(
                                        _l("Letter sent: %(template)s (language: %(language)s), Message-ID %(message_id)s."),
                                        template=labels.label(letter.template, "letter_template"),
                                        language=labels.label(letter.language, "language"),
                                        message_id=letter.message_id)))
    if letter.breach_id is not None and letter.client_id is not None:
        # A breach notice out of the outbox: the affected client is now recorded as told (policy 4.3).
        db.session.execute(update(BreachAffectedClient).where(
            BreachAffectedClient.incident_id == letter.breach_id, BreachAffectedClient.client_id == letter.client_id,
            BreachAffectedClient.notified_at.is_(None)).values(notified_at=letter.sent_at, notified_channel="outbox")
            .execution_options(synchronize_session=False))
    audit.record("letter.send", object_type="letter", object_id=letter.id, request_id=letter.request_id,
                 details={"template": letter.template, "language": letter.language, "via": via,
                          "attempts": letter.attempts, **({"breach_id": letter.breach_id} if letter.breach_id else {})})
    client = db.session.get(Client, letter.client_id) if letter.client_id else None
    if client is not None and client.status == ERASED:
        # The last letter to an erased client: once it is out, its address and text go too.
        letter.to_address = letter.to_address_sealed = letter.subject = letter.body = None
        letter.erased_at = utcnow()


def send_due(now=None, limit=SEND_BATCH):
    """Send pending letters whose time has come; {"sent": n, "waiting": n}. Never raises for an SMTP failure."""
    now = now or utcnow()
    retries = current_app.config["MAIL_RETRY_SECONDS"] or [300]
    ids = db.session.execute(select(Letter.id).where(Letter.status == PENDING, Letter.next_attempt_at <= now)
                             .order_by(Letter.next_attempt_at, Letter.id).limit(limit)).scalars().all()
    sent = waiting = 0
    for letter_id in ids:
        letter = db.session.execute(select(Letter).where(Letter.id == letter_id, Letter.status == PENDING)
                                    .with_for_update(skip_locked=True)).scalar_one_or_none()
        if letter is None:
            db.session.rollback()
            continue
        letter.attempts += 1
        try:
            via = _deliver(letter)
        except (smtplib.SMTPException, OSError) as exc:
            code = _error_code(exc)
            letter.last_error = f"{type(exc).__name__}{f' {code}' if code else ''}"[:200]
            letter.next_attempt_at = utcnow() + dt.timedelta(seconds=retries[min(letter.attempts - 1,
                                                                                  len(retries) - 1)])
            if code and 500 <= int(code) < 600 and letter.attempts >= PERMANENT_AFTER_ATTEMPTS:
                letter.status = FAILED
            logger.warning("letter %s not sent (%s), attempt %s", letter.id, letter.last_error, letter.attempts)
            db.session.commit()
            waiting += 1
            continue
        _record_sent(letter, via)
        db.session.commit()
        sent += 1
    return {"sent": sent, "waiting": waiting}


def resend(letter_id, by):
    """Staff send a letter again (lost, spam folder): a new outbox row with the same text and a new Message-ID."""
    original = db.session.get(Letter, letter_id)
    if original is None or original.body is None or not recipient(original):
        raise LetterError(_l("This letter can no longer be sent again (its text was erased)."))
    letter = Letter(request_id=original.request_id, client_id=original.client_id, template=original.template,
                    language=original.language, status=PENDING, message_id=_new_message_id(),
                    to_address=original.to_address, to_address_sealed=original.to_address_sealed,
                    subject=original.subject, body=original.body, erased_at=original.erased_at,
                    created_by_id=by.id, resend_of_id=original.id, next_attempt_at=utcnow(),
                    breach_id=original.breach_id)
    db.session.add(letter)
    db.session.flush()
    audit.record("letter.resend", object_type="letter", object_id=letter.id, request_id=letter.request_id,
                 details={"resend_of": original.id, "template": letter.template}, actor=by)
    db.session.commit()
    return letter


def read_letter(letter_id, by):
    """A letter with its text for staff who handle requests; the read is audited (a client's communication)."""
    letter = db.session.get(Letter, letter_id)
    if letter is None:
        return None
    audit.record("letter.read", object_type="letter", object_id=letter.id, request_id=letter.request_id,
                 details={"fields": ["to_address", "subject", "body"]}, actor=by)
    db.session.commit()
    return letter


def recent(limit=200):
    return db.session.execute(select(Letter).order_by(Letter.id.desc()).limit(limit)).scalars().all()


def letters_of(request_id):
    return db.session.execute(select(Letter).where(Letter.request_id == request_id).order_by(Letter.id)) \
        .scalars().all()


def pending_count():
    return db.session.execute(select(db.func.count()).select_from(Letter)
                              .where(or_(Letter.status == PENDING, Letter.status == FAILED))).scalar()
