"""What jobs write for staff (errors, outcomes) is shown in the reader's language, never frozen in the worker's."""
import json

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.models.jobs import JobRecord
from backoffice.models.requests import PrivacyRequest
from backoffice.services import erasure, execution, jobqueue
from tests.jobfactories import approved_request, seeded_client

LOST = _l("The job was lost (the queue forgot it or its worker stopped); it was queued again.")


def _in(language, text):
    with force_locale(language):
        return system_notes.render(text)


def test_a_note_is_stored_as_its_message_and_values_and_read_in_each_language(app):
    stored = system_notes.note(_l("Export package #%(package)s is ready, SHA-256 %(sha256)s."), package=7,
                               sha256="ab12")
    assert json.loads(stored) == {"note": "Export package #%(package)s is ready, SHA-256 %(sha256)s.",
                                  "values": {"package": 7, "sha256": "ab12"}}
    shown = {language: _in(language, stored) for language in ("en", "kk", "ru")}
    assert shown["en"] == "Export package #7 is ready, SHA-256 ab12."
    assert shown["kk"] == "№7 экспорт пакеті дайын, SHA-256 ab12."
    assert shown["ru"] == "Пакет выгрузки №7 готов, SHA-256 ab12."
    assert _in("kk", system_notes.note(LOST)).startswith("Тапсырма жоғалды")


def test_plurals_and_legal_references_follow_the_reader(app):
    message = lazy_ngettext(
        "Partial: %(num)d booking for a flight not yet flown was kept (%(law)s); everything else was erased. "
        "Tell the client; a new request after the flight completes the erasure.",
        "Partial: %(num)d bookings for flights not yet flown were kept (%(law)s); everything else was erased. "
        "Tell the client; a new request after the flights completes the erasure.",
        2, law=system_notes.LegalReference("law94.art8_2"))
    stored = system_notes.note(message)
    assert "Law of the Republic" not in stored  # the key is stored, the title is the reader's
    assert _in("en", stored).startswith("Partial: 2 bookings for flights not yet flown were kept (Law of the "
                                        "Republic of Kazakhstan No. 94-V")
    five = system_notes.note(message, num=5)
    ru_two, ru_five = _in("ru", stored), _in("ru", five)
    assert ru_two.startswith("Частично: сохранено 2 бронирования") and ru_five.startswith("Частично: сохранено 5 "
                                                                                           "бронирований")
    assert "8-бабының 2-тармағы" in _in("kk", stored)


# What staff could type into a comment or an outcome (2,000 characters), or a damaged row: shown as written, no 500.
LOOKALIKES = ['{"note": broken', '{"other": 1}', '{"note": "x", "values": [1]}', '{"note": "x", "values": "s"}',
              '{"note": "x", "values": {"a": {"note": {}}}}', '{"note": "x", "plural": "y", "n": 1e400}',
              '{"note": ' + "[" * 1990, '{"note": "x", "values": {"a": {"legal_reference": [1]}}}', '{"note": null}',
              '{"note": 5}', '{"note": "%(a)d", "values": {"a": "z"}}', '{"note": "a", "plural": "b", "n": 1.5}']


@pytest.mark.parametrize("text", [None, "", "The client asked by phone", *LOOKALIKES])
def test_anything_else_is_shown_as_written(app, text):
    assert system_notes.render(text) == (text or "")


def test_a_refused_erasure_reads_in_kazakh_on_the_jobs_and_request_pages(app, client, login_as):
    person, _ = seeded_client("note", 1)
    person.status = "blocked"
    db.session.commit()
    manager = login_as("manager")
    request = approved_request(person, "erasure", by=manager)
    job_id = jobqueue.enqueue_request_job(request.id)
    app.extensions["embedded_worker"].drain()
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == "failed"
    assert system_notes.is_note(db.session.get(JobRecord, job_id).error)
    client.post("/language/kk")
    for path in ("/admin/jobs/", f"/admin/requests/details/?id={request.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "Бас тартылды: клиент бұғатталған" in page, path
        assert "Refused:" not in page and "{&#34;note&#34;" not in page and '{"note"' not in page, path


def test_job_errors_are_notes(app):
    assert system_notes.is_note(execution.safe_error(ValueError("a value with 870101300123")))
    assert "870101300123" not in execution.safe_error(ValueError("a value with 870101300123"))
    assert system_notes.is_note(execution.safe_error(erasure.ErasureRefused(LOST)))
    assert system_notes.is_note(execution.transient_error(TimeoutError()))
