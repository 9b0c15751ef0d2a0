"""Erasing the e-mail channel's records of a client (policy 5.3): their messages, attachments and our letters.

Called by the erasure inside its one transaction. The Message-ID keys stay (hashes, no personal data) so an
erased client's old message is never turned into a new request; every other column of the client's messages
and letters is emptied, attachments and outbox files are deleted.
"""
from sqlalchemy import delete, or_, select, update

from ..extensions import db
from ..models.base import utcnow
from ..models.mail import ERASED_LETTER, SENT, DownloadLink, InboundMail, Letter, MailAttachment
from ..models.requests import PrivacyRequest
from .letters import outbox_path


def erase_client_mail(client, privacy_request):
    """(deleted counts, files to unlink after commit, the address to send the completion letter to)."""
    address = client.email or privacy_request.requester_email
    cid, now = client.id, utcnow()
    requests_of_client = select(PrivacyRequest.id).where(PrivacyRequest.client_id == cid).scalar_subquery()
    mails = select(InboundMail.id).where(or_(InboundMail.client_id == cid,
                                             InboundMail.request_id.in_(requests_of_client)))
    counts = {}
    counts["mail_attachment"] = db.session.execute(
        delete(MailAttachment).where(MailAttachment.mail_id.in_(mails))
        .execution_options(synchronize_session=False)).rowcount or 0
    counts["inbound_mail"] = db.session.execute(
        update(InboundMail).where(InboundMail.id.in_(mails), InboundMail.erased_at.is_(None))
        .values(message_id=None, sender=None, sender_name=None, subject=None, body_text=None, headers=None,
                erased_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    letters = db.session.execute(select(Letter).where(or_(Letter.client_id == cid,
                                                          Letter.request_id.in_(requests_of_client)),
                                                      Letter.erased_at.is_(None))).scalars().all()
    files = [str(outbox_path(letter)) for letter in letters]
    counts["letter"] = 0
    for letter in letters:
        if letter.status != SENT:
            letter.status = ERASED_LETTER
        letter.to_address = letter.subject = letter.body = None
        letter.erased_at = now
        counts["letter"] += 1
    counts["download_link"] = db.session.execute(
        delete(DownloadLink).where(DownloadLink.request_id.in_(requests_of_client))
        .execution_options(synchronize_session=False)).rowcount or 0
    return {k: v for k, v in counts.items() if v}, files, address
