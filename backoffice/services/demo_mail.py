"""The mailbox-less demo of the e-mail channel: a few sample messages as .eml files, imported like the poll would.

Written to instance/demo_mail/ from the demo clients' own addresses (so they match), imported once (fixed
Message-IDs), and the letters they call for are written to instance/outbox/ when no SMTP server is configured.
"""
import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models.base import utcnow
from ..models.clients import ACTIVE, Client
from . import letters, mail_intake

SAMPLES = (
    ("kk", "Өтініш", "Сәлеметсіз бе!\nДербес деректерді өңдеуге арналған келісімді қайтарып алу туралы өтініш "
                     "жіберемін.\nРахмет."),
    ("ru", "Запрос данных", "Здравствуйте! Прошу предоставить мне копию моих персональных данных."),
    ("en", "Unsubscribe", "Please unsubscribe me from your marketing newsletters."),
    (None, "Вопрос", "Здравствуйте, можно ли поменять дату вылета?"),
)


def _sample_files(directory):
    clients = db.session.execute(select(Client).where(Client.status == ACTIVE, Client.email.is_not(None))
                                 .order_by(Client.id).limit(3)).scalars().all()
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (language, subject, text) in enumerate(SAMPLES, start=1):
        msg = EmailMessage()
        sender = clients[number - 1].email if language and number - 1 < len(clients) else "visitor@example.kz"
        msg["From"], msg["To"] = sender, current_app.config["MAIL_FROM"]
        msg["Subject"], msg["Message-ID"] = subject, f"<demo-{number}@demo.local>"
        msg["Date"] = format_datetime(utcnow().replace(tzinfo=dt.timezone.utc))
        msg.set_content(text)
        path = directory / f"sample-{number}.eml"
        path.write_bytes(msg.as_bytes())
        paths.append(path)
    return paths


def import_samples():
    """Import the sample messages (a no-op the second time) and send the letters; counts by outcome."""
    directory = Path(current_app.instance_path) / "demo_mail"
    outcomes = {}
    for path in _sample_files(directory):
        result = mail_intake.receive(path.read_bytes(), source="demo")
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    sent = letters.send_due()
    return {"messages": outcomes, "letters": sent}
