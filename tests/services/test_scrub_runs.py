"""The campaign scrub as a job: queued by the page, run by a worker with progress, counts audited, ids only queued."""
import json

import pytest

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services import scrub, scrub_runs
from tests.factories import make_client
from tests.services.test_scrub import Upload


@pytest.fixture
def worker(app):
    return app.extensions["embedded_worker"]


def test_start_queues_the_upload_id_only_and_the_job_scrubs_with_progress(app, worker, make_staff):
    make_client(email="ok@mail.kz")
    make_client(email="nc@mail.kz", consents=("identification",))
    manager = make_staff("manager")
    upload_id = scrub.store_upload(Upload("name,email\nOk,ok@mail.kz\nNo,nc@mail.kz\nX,x@mail.kz\n".encode()))
    scrub_runs.start(upload_id, 1, None, "email", by=manager)
    queued = list(worker._queue.queue)
    assert [item[:2] for item in queued] == [(scrub_runs.SCRUB_JOB, (upload_id,))]  # no address, no column name
    assert scrub_runs.state(upload_id)["state"] == scrub_runs.QUEUED
    scrub_runs.start(upload_id, 1, None, "email", by=manager)  # a second click: not queued twice
    assert worker.pending() == 1

    assert worker.drain() == 1
    run = scrub_runs.state(upload_id)
    assert (run["state"], run["rows"], run["fraction"]) == (scrub_runs.DONE, 3, 1.0)
    assert scrub.summary(upload_id).kept == 1
    event = db.session.query(AuditEvent).filter_by(action="optout.scrub").one()
    assert event.actor_id == manager.id and json.loads(event.details)["kept"] == 1
    assert "mail.kz" not in scrub_runs.state_path(upload_id).read_text()


def test_bad_choice_is_refused_before_anything_is_queued(app, worker, make_staff):
    upload_id = scrub.store_upload(Upload(b"name,email\nA,a@mail.kz\n"))
    for email_column, phone_column, channel in ((None, None, "email"), (5, None, "email"), (1, None, "fax")):
        with pytest.raises(scrub.ScrubError):
            scrub_runs.start(upload_id, email_column, phone_column, channel, by=make_staff("manager"))
    assert worker.pending() == 0 and not scrub_runs.state_path(upload_id).exists()


def test_a_file_that_breaks_mid_way_ends_the_run_failed_with_the_message(app, worker, make_staff):
    upload_id = scrub.store_upload(Upload(b"name,email\nA,a@mail.kz\n"))
    scrub_runs.start(upload_id, 1, None, "email", by=make_staff("manager"))
    scrub.input_path(upload_id).write_bytes(b"name,email\nA,\xff\xfe@mail.kz\n")  # not UTF-8 any more
    worker.drain()
    run = scrub_runs.state(upload_id)
    assert run["state"] == scrub_runs.FAILED and "UTF-8" in run["error"]
