"""Helpers for the e-mail channel tests: the corpus and message builders."""
import json

import pytest
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "data" / "mail"


def corpus_cases():
    return json.loads((CORPUS / "expected.json").read_text())


def build_message(text="Прошу принять отзыв согласия на обработку персональных данных.", *, sender="client@example.kz",
                  subject="Заявление", date=None, message_id=None, headers=None):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "privacy@bekair.kz"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.kz")
    if date is not None:
        msg["Date"] = format_datetime(date)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    return msg


@pytest.fixture
def dovecot(app):
    from tests.mail.dovecot import Dovecot

    server = Dovecot()
    app.config.update(server.config())
    try:
        yield server
    finally:
        server.stop()
