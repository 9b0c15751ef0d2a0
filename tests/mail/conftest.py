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


class SmtpCapture:
    """An aiosmtpd handler that keeps what it receives and refuses recipients while `refuse` > 0."""

    def __init__(self):
        self.messages, self.refuse = [], 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(app):
    """A real SMTP server (aiosmtpd) on a free port, the app's SMTP settings pointed at it."""
    from aiosmtpd.controller import Controller

    from tests.mail.dovecot import free_port

    handler = SmtpCapture()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=port, MAIL_SMTP_TLS="none", MAIL_SMTP_USER=None)
    handler.controller = controller

    def restart():
        handler.controller = Controller(handler, hostname="127.0.0.1", port=port)
        handler.controller.start()

    handler.restart = restart
    try:
        yield handler
    finally:
        try:
            handler.controller.stop()
        except (AssertionError, RuntimeError):  # already stopped by the test (SMTP down)
            pass
