"""Erasure removes the client's stored e-mails, attachments and letters (checked in every text column and file)."""
import os

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.mail import InboundMail, Letter, MailAttachment
from backoffice.models.requests import PrivacyRequest
from backoffice.services import erasure, letters, mail_intake
from tests.jobfactories import seeded_client, text_hits
from tests.mail.conftest import build_message


def _file_hits(root, value):
    hits = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                if value.encode() in open(path, "rb").read():
                    hits.append(path)
            except OSError:
                pass
    return hits


def test_erasure_deletes_mail_evidence_and_letters_and_counts_them(app, smtp, make_staff):
    client, strings = seeded_client("mailgone", 12)
    subject, secret, attached = "Subj-SEEDED-71", "Body-SEEDED-72", "Attachment-SEEDED-73"
    msg = build_message(f"Отзыв согласия на обработку персональных данных. {secret}", sender=client.email,
                        subject=subject)
    msg.add_attachment(attached.encode(), maintype="application", subtype="pdf", filename="scan.pdf")
    result = mail_intake.receive(msg.as_bytes())
    app.config["MAIL_SMTP_HOST"] = None  # letters also written as files under instance/: they must go too
    assert letters.send_due()["sent"] == 1
    req = db.session.get(PrivacyRequest, result.request_id)
    assert req.client_id == client.id
    manager = make_staff("manager")
    req.status, req.approved_by_id = "approved", manager.id
    db.session.commit()
    address = client.email
    assert text_hits(secret) and _file_hits(app.config["INSTANCE_PATH"], address)

    summary = erasure.erase_client(req.id, job_id="job-mail")

    for value in [subject, secret]:
        assert text_hits(value) == [], value
    for value in strings:
        assert text_hits(value) == [], value
    assert _file_hits(app.config["INSTANCE_PATH"], address) == []
    assert db.session.execute(select(MailAttachment)).scalars().all() == []
    mail = db.session.get(InboundMail, result.mail_id)
    assert mail.erased_at is not None and mail.message_key  # the key stays: never a second request
    assert mail_intake.receive(msg.as_bytes()).outcome == "duplicate"
    assert summary["deleted"]["inbound_mail"] == 1 and summary["deleted"]["mail_attachment"] == 1
    certificate = db.session.get(PrivacyRequest, req.id).certificate
    assert certificate["deleted"]["letter"] == 1

    # The completion letter (what was deleted, what is kept) goes to the address held before erasure...
    app.config["MAIL_SMTP_HOST"] = "127.0.0.1"
    completion = db.session.execute(select(Letter).where(Letter.template == "completion")).scalar_one()
    assert completion.to_address is None and letters.recipient(completion) == address  # sealed until sent
    assert letters.send_due()["sent"] == 1
    (sent,) = smtp.messages
    assert "Удалено" in sent.get_content() or "Жойылғандар" in sent.get_content()
    # ...and once sent, its address and text are gone too.
    db.session.refresh(completion)
    assert completion.to_address_sealed is None and completion.body is None
    for value in strings:
        assert text_hits(value) == [], value

