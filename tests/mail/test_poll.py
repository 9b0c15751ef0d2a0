"""The IMAP poll against a real Dovecot: corpus outcomes, exactly once, a killed poll, a flood in bounded batches."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.mail import InboundMail
from backoffice.models.requests import PrivacyRequest
from backoffice.services import mail_message, mail_poll
from tests.mail.conftest import CORPUS, build_message, corpus_cases

ROOT = Path(__file__).resolve().parents[2]


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_corpus_through_the_mailbox_gets_the_expected_outcomes_and_repolling_adds_nothing(app, dovecot):
    cases = corpus_cases()
    raws = [(CORPUS / c["file"]).read_bytes() for c in cases]
    dovecot.deliver_many(raws)
    result = mail_poll.poll()
    assert result.fetched == len(cases) and result.remaining == 0
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == len(cases)
    rows = {m.message_key: m for m in db.session.execute(select(InboundMail)).scalars()}
    wrong = []
    for case, raw in zip(cases, raws):
        row = rows[mail_message.parse(raw).message_key]
        if (row.outcome, row.detected_type if row.outcome != "ignored" else None) != (case["outcome"], case["type"]):
            wrong.append((case["file"], row.outcome, row.detected_type))
    assert wrong == []
    assert all(r.source == "imap" for r in rows.values())
    requests = _count(PrivacyRequest)
    assert requests == sum(c["outcome"] == "created" for c in cases)

    assert mail_poll.poll().fetched == 0  # nothing left in the folder
    dovecot.deliver_many(raws)  # the same messages delivered again (a resend, a restored backup)
    again = mail_poll.poll()
    assert again.outcomes == {"duplicate": len(cases)}
    assert _count(PrivacyRequest) == requests and _count(InboundMail) == len(cases)


def test_arrival_time_is_the_servers_internaldate(app, dovecot):
    dovecot.deliver(build_message(date=None).as_bytes())
    before = time.time()
    mail_poll.poll()
    received = db.session.execute(select(PrivacyRequest.received_at)).scalar_one()
    assert abs(received.timestamp() - before) < 120  # naive UTC vs epoch: INTERNALDATE is "now" on delivery


def test_a_flood_is_worked_off_in_bounded_batches(app, dovecot):
    app.config["MAIL_POLL_BATCH"] = 50  # a flood is any inbox many batches deep: 400 messages, batches of 50
    dovecot.deliver_many([build_message(f"Отпишите меня от рассылки {i}", sender=f"c{i}@example.kz").as_bytes()
                          for i in range(400)])
    first = mail_poll.poll()
    assert (first.fetched, first.remaining) == (50, 350)
    assert dovecot.count("INBOX") == 350 and dovecot.count("Processed") == 50
    assert _count(InboundMail) == 50


def test_a_poll_killed_after_recording_before_moving_neither_loses_nor_duplicates(app, dovecot, tmp_path):
    dovecot.deliver(build_message().as_bytes())
    pause = tmp_path / "pause"
    pause.mkdir()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               BACKOFFICE_INSTANCE_PATH=app.config["INSTANCE_PATH"], SECRET_KEY="test-secret",
               BACKOFFICE_HASH_KEY="test-hash-key", BACKOFFICE_JOB_PAUSE_DIR=str(pause),
               BACKOFFICE_IMAP_HOST="127.0.0.1", BACKOFFICE_IMAP_PORT=str(dovecot.port), BACKOFFICE_IMAP_TLS="none",
               BACKOFFICE_IMAP_USER=dovecot.config()["MAIL_IMAP_USER"],
               BACKOFFICE_IMAP_PASSWORD=dovecot.config()["MAIL_IMAP_PASSWORD"])
    env.pop("REDIS_URL", None)
    db.session.commit()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "mail-poll"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reached = pause / "mail.after_commit.reached"
    deadline = time.monotonic() + 60
    while not reached.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the poll never reached its checkpoint"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    db.session.expire_all()
    assert _count(InboundMail) == 1 and _count(PrivacyRequest) == 1  # recorded before the kill
    assert dovecot.count("INBOX") == 1  # not moved yet

    result = mail_poll.poll()  # the next poll finds it again
    assert result.outcomes == {"duplicate": 1}
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 1
    assert _count(InboundMail) == 1 and _count(PrivacyRequest) == 1


def test_wrong_password_is_a_clear_error_without_personal_data(app, dovecot):
    app.config["MAIL_IMAP_PASSWORD"] = "wrong"
    try:
        mail_poll.poll()
    except mail_poll.MailboxError as exc:
        assert "log in" in str(exc)
    else:
        raise AssertionError("a wrong password must fail the poll")


def test_not_configured_is_skipped(app):
    app.config["MAIL_IMAP_HOST"] = None
    assert mail_poll.poll().skipped == "not_configured"
