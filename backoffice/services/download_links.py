"""The export reaches the client without staff e-mailing attachments (policy 5.4).

The completion letter carries a link with a random token (no ids, no personal data); a second letter carries a
one-time code (or staff read a fresh code out by phone). Only hashes of both are stored. The link lives as long
as the package, locks after MAX_ATTEMPTS wrong codes, and every attempt and download is audited.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models.base import utcnow
from ..models.mail import DownloadLink
from . import audit, export, letters

MAX_ATTEMPTS = 5
OK, WRONG, LOCKED, EXPIRED, UNKNOWN = "ok", "wrong", "locked", "expired", "unknown"


def _token_hash(token):
    return hashlib.sha256(("download:" + token).encode()).hexdigest()


def _code_hash(link_token_hash, code):
    key = current_app.config["BACKOFFICE_HASH_KEY"].encode()
    return hmac.new(key, f"{link_token_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code():
    return f"{secrets.randbelow(10 ** 6):06d}"


def public_url(token):
    base = current_app.config["MAIL_PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/download/{token}"


def offer(req, package, session=None, by=None):
    """A link and a code for `package`; both letters go to the outbox in the caller's transaction."""
    session = session or db.session
    token, code = secrets.token_urlsafe(32), _new_code()
    token_hash = _token_hash(token)
    link = DownloadLink(token_hash=token_hash, code_hash=_code_hash(token_hash, code), package_id=package.id,
                        request_id=req.id, expires_at=package.expires_at, created_at=utcnow())
    session.add(link)
    expires = letters.local_time_text(package.expires_at)
    letters.queue(req, "access_ready", session=session, by=by, link=public_url(token), expires=expires)
    letters.queue(req, "download_code", session=session, by=by, code=code)
    return token, code


def new_code_for_phone(link_id, by):
    """A fresh code for staff to read out by phone (the old one stops working); shown once, audited."""
    link = db.session.get(DownloadLink, link_id)
    if link is None or link.locked_at is not None or link.expires_at <= utcnow():
        return None
    code = _new_code()
    link.code_hash = _code_hash(link.token_hash, code)
    link.failed_attempts = 0
    audit.record("download.code_for_phone", object_type="download_link", object_id=link.id,
                 request_id=link.request_id, details={}, actor=by)
    db.session.commit()
    return code


def find(token):
    if not token or len(token) > 100:
        return None
    return db.session.execute(select(DownloadLink).where(DownloadLink.token_hash == _token_hash(token))) \
        .scalar_one_or_none()


def state(link):
    if link is None:
        return UNKNOWN
    if link.locked_at is not None:
        return LOCKED
    if link.expires_at <= utcnow() or export.package_for_download(link.package_id) is None:
        return EXPIRED
    return OK


@dataclass
class Attempt:
    status: str
    package: object = None
    attempts_left: int = 0


def try_code(token, code):
    """Check the code; on success the package to send (download audited), else why not. Wrong codes count."""
    link = find(token)
    current = state(link)
    if current != OK:
        if link is not None:
            audit.record("download.refused", object_type="download_link", object_id=link.id,
                         request_id=link.request_id, details={"state": current})
            db.session.commit()
        return Attempt(current)
    code = "".join(ch for ch in str(code or "") if ch.isdigit())[:12]
    if not hmac.compare_digest(_code_hash(link.token_hash, code), link.code_hash):
        link.failed_attempts += 1
        locked = link.failed_attempts >= MAX_ATTEMPTS
        if locked:
            link.locked_at = utcnow()
        audit.record("download.code_wrong", object_type="download_link", object_id=link.id,
                     request_id=link.request_id, details={"attempts": link.failed_attempts, "locked": locked})
        db.session.commit()
        return Attempt(LOCKED if locked else WRONG, attempts_left=MAX_ATTEMPTS - link.failed_attempts)
    package = export.package_for_download(link.package_id)
    link.downloads += 1
    link.failed_attempts = 0
    audit.record("download.public", object_type="download_link", object_id=link.id, request_id=link.request_id,
                 details={"package_id": package.id})
    export.record_download(package)  # commits
    return Attempt(OK, package=package)


def links_of(request_id):
    return db.session.execute(select(DownloadLink).where(DownloadLink.request_id == request_id)
                              .order_by(DownloadLink.id)).scalars().all()
