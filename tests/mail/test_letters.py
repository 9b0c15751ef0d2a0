"""Letters to the client: right language and deadline at a real SMTP server, outbox retries, resend, templates."""
import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.mail import PENDING, SENT, Letter
from backoffice.models.requests import PrivacyRequest, RequestEvent
from backoffice.services import letter_templates, letters, mail_intake
from backoffice.services.intake import create_request
from backoffice.services.lifecycle import JobNotQueued
from backoffice.services.steps import take_step
from tests.factories import make_client
from tests.mail.conftest import build_message


def _local_due(req):
    return letters.local_time_text(req.due_at)


def test_acknowledgement_reaches_smtp_in_the_clients_language_with_the_deadline(app, smtp):
    client = make_client(email="kk.client@mail.kz", preferred_language="kk")
    result = mail_intake.receive(build_message(sender="kk.client@mail.kz").as_bytes())
    req = db.session.get(PrivacyRequest, result.request_id)
    assert letters.send_due() == {"sent": 1, "waiting": 0}  # matched client: no identity letter
    (msg,) = smtp.messages
    assert msg["To"] == "kk.client@mail.kz" and msg["Content-Language"] == "kk"
    assert f"№{req.id}" in msg["Subject"]
    text = msg.get_content()
    assert "Заң бойынша жауап беру мерзімі" in text and _local_due(req) in text
    letter = db.session.execute(select(Letter)).scalar_one()
    assert letter.status == SENT and letter.message_id == msg["Message-ID"] and letter.client_id == client.id
    timeline = db.session.execute(select(RequestEvent.comment).where(RequestEvent.request_id == req.id,
                                                                      RequestEvent.action == "letter_sent")).scalar_one()
    with force_locale("en"):  # a note: the reader's language, the template and language by their labels
        assert system_notes.render(timeline) == (f"Letter sent: Acknowledgement of receipt (language: Kazakh), Message-ID "
                                                 f"{letter.message_id}.")


def test_unmatched_sender_gets_acknowledgement_and_identity_check_in_the_language_they_wrote(app, smtp):
    mail_intake.receive(build_message(EN := "Hello, withdrawal of consent to personal data processing please.",
                                      sender="stranger@example.com", subject="Privacy").as_bytes())
    letters.send_due()
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert [m["Content-Language"] for m in smtp.messages] == ["en", "en"], EN
    assert any(s.startswith("Please confirm your identity") for s in subjects)
    assert any(s.startswith("We received your request") for s in subjects)


def test_without_a_preference_or_message_the_letter_is_russian(app, smtp, make_staff):
    staff = make_staff("support")
    create_request(by=staff, type="access", channel="phone", requester_email="nobody@mail.kz")
    letters.send_due()
    assert {m["Content-Language"] for m in smtp.messages} == {"ru"}


def test_smtp_refusing_or_down_delays_letters_but_never_loses_them(app, smtp):
    smtp.refuse = 1
    mail_intake.receive(build_message(sender="x@mail.kz").as_bytes())
    count = db.session.execute(select(db.func.count()).select_from(Letter)).scalar()
    assert letters.send_due() == {"sent": count - 1, "waiting": 1}  # the first recipient was refused (451)
    waiting = db.session.execute(select(Letter).where(Letter.status == PENDING)).scalar_one()
    assert waiting.attempts == 1 and "SMTPRecipientsRefused 451" == waiting.last_error
    assert waiting.next_attempt_at > utcnow()
    assert letters.send_due() == {"sent": 0, "waiting": 0}  # not due yet

    smtp.controller.stop()  # the server is down now
    later = utcnow() + dt.timedelta(hours=3)
    assert letters.send_due(now=later) == {"sent": 0, "waiting": 1}
    db.session.refresh(waiting)
    assert waiting.status == PENDING and waiting.attempts == 2

    smtp.restart()  # back
    assert letters.send_due(now=utcnow() + dt.timedelta(days=1)) == {"sent": 1, "waiting": 0}
    assert db.session.execute(select(Letter.status)).scalars().all() == [SENT] * count
    assert len(smtp.messages) == count


def test_no_smtp_settings_write_letters_to_the_instance_outbox(app):
    app.config["MAIL_SMTP_HOST"] = None
    mail_intake.receive(build_message(sender="y@mail.kz").as_bytes())
    assert letters.send_due()["sent"] == 2
    files = sorted(p.name for p in letters.outbox_path(db.session.get(Letter, 1)).parent.iterdir())
    assert files == ["letter-00000001-acknowledgement.eml", "letter-00000002-identity_verification.eml"]


def test_staff_can_resend_a_letter(app, smtp, make_staff):
    staff = make_staff("support")
    mail_intake.receive(build_message(sender="z@mail.kz").as_bytes())
    letters.send_due()
    first = db.session.execute(select(Letter).order_by(Letter.id)).scalars().first()
    again = letters.resend(first.id, staff)
    letters.send_due()
    assert again.resend_of_id == first.id and again.message_id != first.message_id
    assert [m["Message-ID"] for m in smtp.messages].count(again.message_id) == 1


def test_refusal_and_extension_letters_carry_the_reason(app, smtp, make_staff):
    staff = make_staff("support")
    client = make_client(email="r@mail.kz", preferred_language="ru")
    req = create_request(by=staff, type="erasure", channel="email", client=client)
    take_step(req, "reject", staff, comment="Запрос не от владельца данных")
    letters.send_due()
    refusal = [m for m in smtp.messages if m["Subject"].startswith("Решение по обращению")]
    assert refusal and "Причина: Запрос не от владельца данных" in refusal[0].get_content()


@pytest.mark.parametrize("key", letter_templates.KEYS)
def test_every_template_exists_in_every_language_and_renders(app, key):
    assert set(letter_templates.DEFAULTS[key]) == set(letter_templates.LANGUAGES)
    for language in letter_templates.LANGUAGES:
        subject, body = letter_templates.check(*letter_templates.DEFAULTS[key][language], language)
        assert subject and body and "{{" not in body


def test_templates_are_sandboxed():
    with pytest.raises(letter_templates.TemplateInvalid):
        letter_templates.check("x", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "en")
    with pytest.raises(letter_templates.TemplateInvalid):
        letter_templates.check("x", "{{ no_such_variable }}", "en")


def test_a_subject_never_carries_a_line_break():
    subject, _ = letter_templates.render_source("Hi {{ reason }}", "b", "en", {"reason": "a\r\nBcc: x@y.z"})
    assert "\n" not in subject and "\r" not in subject


def test_extension_and_block_letters_follow_the_steps(app, smtp, make_staff):
    support, manager = make_staff("support"), make_staff("manager")
    client = make_client(email="b@mail.kz", preferred_language="en")
    withdrawal = create_request(by=support, type="consent_withdrawal", channel="email", client=client)
    take_step(withdrawal, "verify_identity", support, method="registered_email")
    take_step(withdrawal, "submit_for_approval", support)
    try:
        take_step(withdrawal, "approve", manager, comment="ok")
    except JobNotQueued:
        pass  # no worker in this test: the request stays approved, which is all the extension needs
    take_step(withdrawal, "extend_deadline", support, comment="Archive search needed")
    letters.send_due()
    extension = next(m for m in smtp.messages if m["Subject"].startswith("Deadline extended"))
    db.session.refresh(withdrawal)
    assert "Reason: Archive search needed" in extension.get_content()
    assert letters.local_time_text(withdrawal.due_at) in extension.get_content()

    blocked = make_client(email="u@mail.kz", preferred_language="kk", status="blocked")
    unblocking = create_request(by=support, type="unblocking", channel="email", client=blocked)
    take_step(unblocking, "verify_identity", support, method="registered_email")
    take_step(unblocking, "start", support)
    take_step(unblocking, "complete", support)
    letters.send_due()
    assert any(m["Subject"].startswith("Бұғаттау алынды") for m in smtp.messages)


def test_an_opt_out_gets_only_its_completion_letter(app, smtp, make_staff):
    create_request(by=make_staff("support"), type="marketing_opt_out", channel="email",
                   requester_email="o@mail.kz")
    letters.send_due()
    assert [m["Subject"] for m in smtp.messages] == ["Ваше обращение выполнено: № 1"]
