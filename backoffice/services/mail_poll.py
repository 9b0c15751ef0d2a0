"""Read the intake mailbox over IMAP (policy 5.3): every message processed exactly once, then moved away.

Order per message: fetch without setting \\Seen (BODY.PEEK), record it (one database transaction), then MOVE it
to the processed folder. A poll killed after the commit and before the move finds the message again next time;
its Message-ID is already stored, so it is answered "duplicate" and moved — never lost, never a second request.
At most MAIL_POLL_BATCH messages per poll: a flood is worked off over several polls.
"""
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from flask import current_app

from . import execution, mail_intake

logger = logging.getLogger("backoffice.mail")


class MailboxError(Exception):
    """The mailbox could not be read (connection, login, folder); the message says which step, no personal data."""


@dataclass
class PollResult:
    fetched: int = 0
    outcomes: dict = field(default_factory=dict)
    remaining: int = 0
    skipped: str | None = None

    def as_dict(self):
        return {"fetched": self.fetched, "outcomes": self.outcomes, "remaining": self.remaining,
                "skipped": self.skipped}


def configured(config=None):
    config = config or current_app.config
    return bool(config.get("MAIL_IMAP_HOST") and config.get("MAIL_IMAP_USER"))


def _connect(config):
    host, port, mode = config["MAIL_IMAP_HOST"], config["MAIL_IMAP_PORT"], config["MAIL_IMAP_TLS"]
    timeout = config["MAIL_TIMEOUT_SECONDS"]
    if mode == "ssl":
        conn = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)
    else:
        conn = imaplib.IMAP4(host, port, timeout=timeout)
        if mode == "starttls":
            conn.starttls(ssl_context=ssl.create_default_context())
    conn.login(config["MAIL_IMAP_USER"], config["MAIL_IMAP_PASSWORD"] or "")
    return conn


def _quote(folder):
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _fetch(conn, uid):
    status, data = conn.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])")
    if status != "OK":
        return None, None
    raw, arrived = None, None
    for item in data:
        if isinstance(item, tuple):
            raw = item[1]
            found = _INTERNALDATE.search(item[0])
            if found:
                try:
                    arrived = parsedate_to_datetime(_rfc2822(found.group(1).decode("ascii")))
                except (TypeError, ValueError, UnicodeDecodeError):
                    arrived = None
    return raw, arrived


def _rfc2822(internaldate):
    """IMAP's "01-Dec-2026 09:00:00 +0500" as RFC 2822 for parsedate_to_datetime."""
    day, rest = internaldate.strip().split("-", 1)
    month, rest = rest.split("-", 1)
    year, time_part, zone = rest.split(" ")
    return f"{int(day):02d} {month} {year} {time_part} {zone}"


def _move(conn, uid, processed):
    if b"MOVE" in b" ".join(conn.capabilities if isinstance(conn.capabilities[0], bytes)
                              else [c.encode() for c in conn.capabilities]):
        status, _ = conn.uid("MOVE", uid, _quote(processed))
        if status == "OK":
            return
    status, _ = conn.uid("COPY", uid, _quote(processed))
    if status != "OK":
        raise MailboxError("copy to the processed folder failed")
    conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
    conn.expunge()


def poll(config=None):
    """Process up to MAIL_POLL_BATCH messages of the intake folder; a PollResult (counts only)."""
    config = config or current_app.config
    if not configured(config):
        return PollResult(skipped="not_configured")
    folder, processed = config["MAIL_IMAP_FOLDER"], config["MAIL_IMAP_PROCESSED_FOLDER"]
    try:
        conn = _connect(config)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot log in to the mailbox ({type(exc).__name__})") from None
    result = PollResult()
    try:
        conn.create(_quote(processed))  # NO when it exists: fine
        status, _ = conn.select(_quote(folder))
        if status != "OK":
            raise MailboxError("the intake folder cannot be opened")
        status, data = conn.uid("SEARCH", None, "ALL")
        uids = data[0].split() if status == "OK" and data and data[0] else []
        batch, result.remaining = uids[:config["MAIL_POLL_BATCH"]], max(len(uids) - config["MAIL_POLL_BATCH"], 0)
        for uid in batch:
            raw, arrived = _fetch(conn, uid)
            if raw is None:
                continue
            outcome = mail_intake.receive(raw, source="imap", arrived=arrived).outcome
            execution.checkpoint("mail.after_commit")
            _move(conn, uid, processed)
            result.fetched += 1
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"mailbox error ({type(exc).__name__})") from None
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    logger.info("mail poll: %s", result.as_dict())
    return result
