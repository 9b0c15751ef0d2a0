"""Support's mail pages: triage, audited message reads, inert attachments, .eml upload; letters; templates."""
import io

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.mail import InboundMail, Letter, LetterTemplate
from backoffice.models.requests import PrivacyRequest
from backoffice.services import letters, mail_intake
from tests.mail.conftest import CORPUS, build_message


def _actions():
    return db.session.execute(select(AuditEvent.action)).scalars().all()


def test_triage_queue_lists_unclear_mail_and_support_creates_the_request(app, client, login_as):
    result = mail_intake.receive((CORPUS / "ru_unclear_question.eml").read_bytes())
    login_as("support")
    page = client.get("/admin/mail/").get_data(as_text=True)
    assert f"#{result.mail_id}" in page
    message = client.get(f"/admin/mail/{result.mail_id}")
    assert message.status_code == 200 and "багажа" in message.get_data(as_text=True)
    assert "mail.read" in _actions()
    response = client.post(f"/admin/mail/{result.mail_id}/triage", data={"type": "access"})
    assert response.status_code == 302
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    mail = db.session.get(InboundMail, result.mail_id)
    assert req.type == "access" and mail.request_id == req.id and mail.triage_status == "done"
    assert req.received_at == mail.received_at  # the clock runs from the message, not from the decision
    again = client.post(f"/admin/mail/{result.mail_id}/triage", data={"type": "access"})
    assert again.status_code == 302 and db.session.execute(select(db.func.count(PrivacyRequest.id))).scalar() == 1


def test_dismiss_and_bad_choice(app, client, login_as):
    result = mail_intake.receive((CORPUS / "ru_unclear_question.eml").read_bytes())
    login_as("support")
    client.post(f"/admin/mail/{result.mail_id}/triage", data={"type": "wizardry"})
    assert db.session.get(InboundMail, result.mail_id).triage_status == "open"
    client.post(f"/admin/mail/{result.mail_id}/triage", data={"type": "dismiss"})
    db.session.expire_all()
    assert db.session.get(InboundMail, result.mail_id).triage_status == "done"
    assert db.session.execute(select(PrivacyRequest)).first() is None


def test_scripts_in_mail_are_shown_as_text_and_attachments_only_download(app, client, login_as):
    msg = build_message("Hello <script>alert('x')</script> please advise")
    msg.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html", filename="evil.html")
    result = mail_intake.receive(msg.as_bytes())
    login_as("support")
    page = client.get(f"/admin/mail/{result.mail_id}").get_data(as_text=True)
    assert "<script>alert('x')</script>" not in page and "&lt;script&gt;" in page
    attachment = db.session.get(InboundMail, result.mail_id).attachments[0]
    response = client.get(f"/admin/mail/{result.mail_id}/attachment/{attachment.id}")
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "mail.attachment_read" in _actions()


def test_support_uploads_an_eml_and_gets_the_request(app, client, login_as):
    login_as("support")
    data = {"eml": (io.BytesIO((CORPUS / "kk_marker_proper.eml").read_bytes()), "message.eml")}
    response = client.post("/admin/mail/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and "/admin/requests/details" in response.headers["Location"]
    assert db.session.execute(select(PrivacyRequest.type)).scalar_one() == "consent_withdrawal"
    assert db.session.execute(select(InboundMail.source)).scalar_one() == "upload"


def test_letters_page_read_is_audited_and_resend_works(app, client, login_as):
    mail_intake.receive(build_message(sender="l@mail.kz").as_bytes())
    letters.send_due()
    login_as("manager")
    assert client.get("/admin/letters/").status_code == 200
    first = db.session.execute(select(Letter).order_by(Letter.id)).scalars().first()
    page = client.get(f"/admin/letters/{first.id}").get_data(as_text=True)
    assert first.message_id.strip("<>") in page and "letter.read" in _actions()
    client.post(f"/admin/letters/{first.id}/resend")
    assert db.session.execute(select(Letter).where(Letter.resend_of_id == first.id)).scalar_one()


def test_admin_edits_a_template_with_preview_and_bad_templates_are_refused(app, client, login_as):
    login_as("admin")
    assert client.get("/admin/letter_templates/").status_code == 200
    page = client.get("/admin/letter_templates/acknowledgement/kk").get_data(as_text=True)
    assert "1042" in page  # the preview uses the made-up request
    bad = client.post("/admin/letter_templates/acknowledgement/kk",
                      data={"subject": "x", "body": "{{ ''.__class__.__mro__ }}"}).get_data(as_text=True)
    assert "nothing was saved" in bad and db.session.execute(select(LetterTemplate)).first() is None
    client.post("/admin/letter_templates/acknowledgement/kk",
                data={"subject": "Алынды №{{ number }}", "body": "Жаңа мәтін {{ due }}"})
    row = db.session.execute(select(LetterTemplate)).scalar_one()
    assert (row.key, row.language, row.subject) == ("acknowledgement", "kk", "Алынды №{{ number }}")
    assert "letter_template.update" in _actions()
    assert client.get("/admin/letter_templates/nope/xx").status_code == 404


def test_request_page_lists_its_messages_and_letters(app, client, login_as):
    result = mail_intake.receive(build_message(sender="p@mail.kz").as_bytes())
    login_as("support")
    page = client.get(f"/admin/requests/details/?id={result.request_id}").get_data(as_text=True)
    assert 'id="request-mail"' in page and f"/admin/mail/{result.mail_id}" in page and "/admin/letters/" in page
    assert "p@mail.kz" not in page.split('id="request-mail"')[1].split("</ul>")[0]  # content opens audited only
