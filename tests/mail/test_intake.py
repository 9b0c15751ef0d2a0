"""Mail intake: the corpus through `flask mail-import`, exactly once, sender matching, arrival time, hostile mail."""
import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from backoffice.cli.mail import mail_import_command
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.mail import InboundMail, MailAttachment
from backoffice.models.requests import PrivacyRequest
from backoffice.services import mail_intake
from tests.factories import make_client
from tests.mail.conftest import CORPUS, build_message, corpus_cases


def _import(app, paths):
    result = app.test_cli_runner().invoke(mail_import_command, [str(p) for p in paths])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_corpus_has_forty_messages_in_three_languages():
    cases = corpus_cases()
    assert len(cases) >= 40
    names = {c["file"][:3] for c in cases}
    assert {"kk_", "ru_", "en_"} <= names
    assert {c["outcome"] for c in cases} == {"created", "triage", "ignored"}


def test_every_corpus_message_gets_its_expected_outcome_and_reimport_creates_nothing(app):
    cases = corpus_cases()
    lines = _import(app, [CORPUS / c["file"] for c in cases])
    assert len(lines) == len(cases)
    got = {line["file"].rsplit("/", 1)[-1]: line for line in lines}
    wrong = [(c["file"], got[c["file"]]["outcome"], got[c["file"]]["type"], c["outcome"], c["type"])
             for c in cases if (got[c["file"]]["outcome"], got[c["file"]]["type"]) != (c["outcome"], c["type"])]
    assert wrong == []
    for line in lines:
        assert set(line) == {"file", "message_id", "outcome", "request_id", "type"}
        assert (line["request_id"] is not None) == (line["outcome"] == "created")
    requests_before = db.session.scalar(select(func.count()).select_from(PrivacyRequest))
    mails_before = db.session.scalar(select(func.count()).select_from(InboundMail))
    assert requests_before == sum(c["outcome"] == "created" for c in cases)
    assert mails_before == len(cases)  # triage and ignored are recorded too: nothing is dropped

    again = _import(app, [CORPUS / c["file"] for c in cases])
    assert {line["outcome"] for line in again} == {"duplicate"}
    assert {line["file"]: line["request_id"] for line in again} == {line["file"]: line["request_id"] for line in lines}
    assert db.session.scalar(select(func.count()).select_from(PrivacyRequest)) == requests_before
    assert db.session.scalar(select(func.count()).select_from(InboundMail)) == mails_before


def test_sender_is_matched_by_normalised_registered_email(app):
    client = make_client(email="Aigerim.N@Mail.kz")
    result = mail_intake.receive(build_message(sender="Айгерім <AIGERIM.N@mail.KZ>").as_bytes())
    req = db.session.get(PrivacyRequest, result.request_id)
    assert req.client_id == client.id and req.channel == "email" and req.type == "consent_withdrawal"
    other = mail_intake.receive(build_message(sender="someone-else@mail.kz").as_bytes())
    assert db.session.get(PrivacyRequest, other.request_id).client_id is None


def test_received_time_is_the_arrival_time_bounded(app):
    now = utcnow()
    two_hours_ago = (now - dt.timedelta(hours=2)).replace(microsecond=0, tzinfo=dt.timezone.utc)
    arrived = two_hours_ago + dt.timedelta(minutes=3)
    msg = build_message(date=two_hours_ago)
    msg["Received"] = f"from mx.example.kz by mail.bekair.kz; {arrived.strftime('%a, %d %b %Y %H:%M:%S +0000')}"
    req = db.session.get(PrivacyRequest, mail_intake.receive(msg.as_bytes()).request_id)
    assert req.received_at == arrived.replace(tzinfo=None)  # the top Received header, not processing time

    only_date = db.session.get(PrivacyRequest, mail_intake.receive(build_message(date=two_hours_ago).as_bytes())
                               .request_id)
    assert only_date.received_at == two_hours_ago.replace(tzinfo=None)

    future = mail_intake.receive(build_message(date=dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)).as_bytes())
    ancient = mail_intake.receive(build_message(date=dt.datetime(1999, 1, 1, tzinfo=dt.timezone.utc)).as_bytes())
    for result in (future, ancient):
        received = db.session.get(PrivacyRequest, result.request_id).received_at
        assert now - dt.timedelta(seconds=5) <= received <= utcnow()


def test_evidence_is_kept_with_attachments_up_to_the_limit_and_audited(app):
    app.config["MAIL_ATTACHMENT_MAX_BYTES"] = 1024 * 1024
    msg = build_message("Прошу удалить мои персональные данные.")
    msg.add_attachment(b"small", maintype="application", subtype="pdf", filename="passport-scan.pdf")
    msg.add_attachment(b"\0" * (20 * 1024 * 1024), maintype="application", subtype="zip", filename="big.zip")
    result = mail_intake.receive(msg.as_bytes())
    assert result.outcome == "created" and result.type == "erasure"
    mail = db.session.get(InboundMail, result.mail_id)
    assert mail.request_id == result.request_id
    assert "удалить" in mail.body_text and "Message-ID" in mail.headers
    small, big = db.session.execute(select(MailAttachment).order_by(MailAttachment.id)).scalars().all()
    assert (small.kept, small.content, small.size) == (True, b"small", 5)
    assert (big.kept, big.content, big.size) == (False, None, 20 * 1024 * 1024)
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "mail.receive" in actions


def test_html_with_scripts_is_stored_as_text_never_markup(app):
    msg = build_message()
    msg.set_content("<p>Отзыв согласия на обработку персональных данных</p><script>alert(1)</script>",
                    subtype="html")
    mail = db.session.get(InboundMail, mail_intake.receive(msg.as_bytes()).mail_id)
    assert "<script" not in mail.body_text and "alert" not in mail.body_text and "<p>" not in mail.body_text


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe\x00garbage", b"From: \r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\n--"])
def test_unreadable_bytes_go_to_triage(app, raw):
    assert mail_intake.receive(raw).outcome == "triage"
