"""The opt-out CSV import as a job (policy 3.2.2; issue 13): the upload only queues it, the job checks every row
then imports in batches with progress, bad rows refuse the whole file, the file is deleted, interruptions resume."""
import datetime as dt
import json
import os
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.jobs import FAILED, FINISHED, LOST, RETRYING, JobRecord
from backoffice.models.optouts import MarketingOptOut, OptOutImport
from backoffice.services import consents, optout_import, optout_import_runs, optouts
from backoffice.services.optouts import OptOutError
from tests.factories import make_client
from tests.services.test_scrub import Upload


@pytest.fixture
def worker(app):
    return app.extensions["embedded_worker"]


@pytest.fixture
def support(make_staff):
    return make_staff("support")


def count(model):
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def start(text, by=None, encoding="utf-8"):
    return optout_import_runs.start(Upload(text.encode(encoding)), by=by)


def imported(text, worker, by=None):
    run = start(text, by)
    assert worker.drain() == 1
    db.session.expire_all()
    return db.session.get(OptOutImport, run.id)


def events(action):
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def test_the_upload_queues_the_run_id_only_and_imports_nothing_until_the_job_runs(app, worker, support):
    run = start("email,channel\nanna@mail.kz,all\nboris@mail.kz,sms\n", by=support)
    path = optout_import_runs.file_path(run)
    assert path.exists() and path.parent.name == "optout-imports"
    assert path.is_relative_to(app.instance_path) and oct(path.stat().st_mode)[-3:] == "600"
    assert [item[:2] for item in worker._queue.queue] == [(optout_import_runs.IMPORT_JOB, (run.id,))]
    assert count(MarketingOptOut) == 0  # the web request imported nothing
    record = db.session.get(JobRecord, run.job_id)
    assert (record.kind, record.status, record.request_id) == ("optout_import", "queued", None)
    (started,) = events("optout.import_start")
    assert started.actor_id == support.id and json.loads(started.details) == {"rows": 2, "bytes": path.stat().st_size}

    assert worker.drain() == 1
    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert (run.status, run.rows_total, run.rows_done, run.added, run.merged, run.rejected) == ("done", 2, 2, 2, 0, 0)
    assert count(MarketingOptOut) == 2 and not path.exists()
    assert db.session.get(JobRecord, run.job_id).status == FINISHED
    (ended,) = events("optout.import")
    assert ended.outcome == "success" and ended.object_id == str(run.id)
    assert json.loads(ended.details) == {"rows": 2, "created": 2, "merged": 0}
    assert "mail.kz" not in started.details + ended.details + json.dumps(record.func)


def test_one_bad_row_refuses_the_whole_file_with_row_numbers_and_reasons_in_every_language(app, worker, support):
    data = "email,phone,channel\nanna@mail.kz,,all\nboris@mail.kz,,sms\nnot-an-address,,all\n,,\n,+7 701 555 12 34,fax\n"
    run = imported(data, worker, by=support)
    assert (run.status, run.rejected, run.rows_checked, run.rows_done) == ("refused", 2, 4, 0)
    assert [problem["line"] for problem in run.problems] == [4, 6]
    first = run.problems[0]["message"]
    assert set(first) == {"en", "ru", "kk"} and first["en"].startswith("E-mail")
    assert first["ru"] != first["en"] and first["kk"] != first["en"] and first["kk"] != first["ru"]
    assert "not-an-address" not in json.dumps(run.problems, ensure_ascii=False)
    assert count(MarketingOptOut) == 0 and not optout_import_runs.file_path(run).exists()
    (ended,) = events("optout.import")
    assert ended.outcome == "failure" and json.loads(ended.details) == {"rows": 4, "rejected": 2}


def test_too_many_problems_are_counted_but_only_the_first_hundred_kept(app, worker):
    run = imported("email\n" + "bad\n" * 150, worker)
    assert run.rejected == 150 and len(run.problems) == optout_import.MAX_ERRORS_SHOWN


@pytest.mark.parametrize("data,message", [
    ("name,channel\nAnna,all\n", "must name an 'email'"),
    ("email\n", "no rows under its header"),
    ("", "empty"),
    ("email\nanna@mail.kz,\xff\n", "UTF-8"),
])
def test_a_file_refused_at_upload_leaves_nothing_behind(app, worker, data, message):
    encoding = "cp1251" if "\xff" in data else "utf-8"
    with pytest.raises(OptOutError, match=message):
        start(data.replace("\xff", "ж"), encoding=encoding)
    assert list(optout_import_runs.IMPORTS.folder().iterdir()) == []
    assert count(OptOutImport) == 0 and worker.pending() == 0


def test_line_length_and_column_caps_are_checked_in_the_request(app, worker):
    wide = "email," + ",".join(f"c{i}" for i in range(app.config["CSV_MAX_COLUMNS"])) + "\n"
    long_line = "email\na@mail.kz\n" + "a" * (app.config["CSV_MAX_LINE_BYTES"] + 1) + "\n"
    with pytest.raises(OptOutError, match="columns"):
        start(wide)
    with pytest.raises(OptOutError, match="Line 3 is longer than"):
        start(long_line)
    assert count(OptOutImport) == 0 and worker.pending() == 0


def test_duplicates_merge_and_are_counted_as_already_on_the_list(app, worker):
    optouts.add_opt_out("anna@mail.kz", None, "all")
    db.session.commit()
    data = "E-mail;Phone;Channel;Reason\nANNA@mail.kz;;all;\nboris@mail.kz;;;unsubscribed\nboris@mail.kz;;all;\n" \
           ";8 701 555 12 34;sms;\n"
    run = imported(data, worker)
    assert (run.rows_done, run.added, run.merged) == (4, 2, 2)
    assert count(MarketingOptOut) == 3
    assert optouts.is_opted_out(phone="+77015551234", channel="sms")


def test_batches_link_clients_and_withdraw_marketing_consent_like_single_adds(app, worker, monkeypatch):
    monkeypatch.setattr(optout_import_runs, "BATCH_SIZE", 2)
    anna = make_client(email="anna@mail.kz", phone="+7 701 555 12 34")
    boris = make_client(email="boris@mail.kz", phone="+7 702 555 12 34")
    data = ("email,phone,channel\nanna@mail.kz,,all\n,+77015551234,all\nboris@mail.kz,,sms\n"
            "anna@mail.kz,8 701 555 12 34,all\n")
    run = imported(data, worker)
    assert (run.added, run.merged) == (3, 1)
    entries = db.session.execute(select(MarketingOptOut).order_by(MarketingOptOut.id)).scalars().all()
    # Rows with one address each are separate entries (as single adds are); the row with both merges into them.
    assert [(e.email, e.phone, e.channel, e.client_id) for e in entries] == [
        ("anna@mail.kz", None, "all", anna.id), (None, "+77015551234", "all", anna.id),
        ("boris@mail.kz", None, "sms", boris.id)]
    assert not consents.active_consents(anna.id, "marketing") and consents.active_consents(boris.id, "marketing")


def test_the_page_sees_progress_while_the_job_checks_and_imports(app, worker, client, login_as, monkeypatch):
    monkeypatch.setattr(optout_import_runs, "BATCH_SIZE", 2)
    monkeypatch.setattr(optout_import_runs, "PROGRESS_EVERY_SECONDS", 0)
    login_as("support")
    run = start("email\n" + "".join(f"p{i}@mail.kz\n" for i in range(5)))
    url = f"/admin/optouts/import/{run.id}/status.json"
    seen = []
    real_check, real_apply = optout_import.check, optout_import.apply_batch

    def page_now():
        with app.app_context():  # another request with its own session: it sees what the job has committed
            data = client.get(url).get_json()
        seen.append((data["step"], data["phase_done"], data["phase_total"], data["live"]))

    def check(lines, dialect, progress=None):
        def progress_and_look(rows):
            progress(rows)
            page_now()
        return real_check(lines, dialect, progress=progress_and_look)

    def apply_batch(rows, by):
        page_now()
        return real_apply(rows, by)

    monkeypatch.setattr(optout_import, "check", check)
    monkeypatch.setattr(optout_import, "apply_batch", apply_batch)
    assert client.get(url).get_json()["step"] == "queued"
    worker.drain()
    db.session.expire_all()
    assert seen == [("checking", n, 5, True) for n in range(1, 6)] + [
        ("importing", 0, 5, True), ("importing", 2, 5, True), ("importing", 4, 5, True)]
    final = client.get(url).get_json()
    assert (final["step"], final["live"], final["added"], final["percent"]) == ("done", False, 5, 100)


def test_an_interrupted_import_goes_on_after_its_last_committed_batch(app, worker, monkeypatch):
    monkeypatch.setattr(optout_import_runs, "BATCH_SIZE", 2)
    app.config["JOB_RETRY_INTERVALS"] = [3600]  # the embedded retry waits; the test runs the retry itself
    real_apply, calls = optout_import.apply_batch, []

    def apply_batch(rows, by):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OperationalError("INSERT", {}, Exception("connection lost"))
        return real_apply(rows, by)

    monkeypatch.setattr(optout_import, "apply_batch", apply_batch)
    run = start("email\n" + "".join(f"r{i}@mail.kz\n" for i in range(5)) + "r0@mail.kz\n")
    worker.drain()
    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert (run.status, run.rows_done, run.added) == ("importing", 2, 2)  # the first batch stays, with its count
    assert db.session.get(JobRecord, run.job_id).status == RETRYING
    assert optout_import_runs.file_path(run).exists()
    assert optout_import_runs.maintain() == []  # its retry is scheduled: not lost

    optout_import_runs.execute(run.id, job_id=run.job_id)  # the retry
    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert (run.status, run.rows_done, run.added, run.merged) == ("done", 6, 5, 1)
    # Batch 1, batch 2 (lost), then the retry: batch 2 again and batch 3; batch 1 is not applied twice.
    assert count(MarketingOptOut) == 5 and calls == [2, 2, 2, 2]


def test_a_permanent_failure_ends_the_run_failed_and_deletes_the_file(app, worker, monkeypatch):
    def broken(rows, by):
        raise RuntimeError("a bug")

    monkeypatch.setattr(optout_import, "apply_batch", broken)
    run = imported("email\nanna@mail.kz\n", worker)
    assert (run.status, run.failure) == ("failed", optout_import_runs.ERROR)
    assert not optout_import_runs.file_path(run).exists()
    record = db.session.get(JobRecord, run.job_id)
    assert record.status == FAILED and "RuntimeError" in record.error
    (ended,) = events("optout.import")
    assert ended.outcome == "failure" and json.loads(ended.details) == {"rows": 0, "failure": "error"}


def test_a_missing_file_fails_the_run_with_what_to_do(app, worker):
    run = start("email\nanna@mail.kz\n")
    optout_import_runs.file_path(run).unlink()
    worker.drain()
    db.session.expire_all()
    assert db.session.get(OptOutImport, run.id).failure == optout_import_runs.FILE_MISSING
    assert count(MarketingOptOut) == 0


def test_maintain_requeues_a_lost_job_and_the_replaced_job_does_nothing(app, worker):
    run = start("email\nanna@mail.kz\n")
    lost_job = run.job_id
    worker._states.clear()  # the queue forgot the job (Redis flushed, embedded worker restarted)
    assert optout_import_runs.maintain(now=utcnow() + dt.timedelta(minutes=2)) == [run.id]
    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert run.job_id != lost_job and db.session.get(JobRecord, lost_job).status == LOST
    assert [e.object_id for e in events("job.requeued")] == [str(run.id)]
    assert worker.drain() == 2  # the lost job's queue entry is a no-op; the new job imports
    assert count(MarketingOptOut) == 1
    assert db.session.get(OptOutImport, run.id).status == "done"


def test_maintain_ends_abandoned_runs_and_deletes_files_no_run_holds(app, worker):
    run = start("email\nanna@mail.kz\n")
    folder = optout_import_runs.IMPORTS.folder()
    stray, fresh = folder / ("a" * 32 + ".csv"), folder / ("b" * 32 + ".csv")
    stray.write_text("email\nx@mail.kz\n")
    fresh.write_text("email\ny@mail.kz\n")
    hour_ago = time.time() - 3600
    os.utime(stray, (hour_ago, hour_ago))
    optout_import_runs.maintain(now=utcnow() + dt.timedelta(minutes=app.config["IMPORT_FILE_TTL_MINUTES"] + 1))
    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert (run.status, run.failure) == ("failed", optout_import_runs.EXPIRED)
    assert not optout_import_runs.file_path(run).exists() and not stray.exists() and fresh.exists()
    worker.drain()  # the job comes later: the run has ended, nothing is imported
    assert count(MarketingOptOut) == 0


def test_file_jobs_get_their_own_timeout(app):
    from backoffice.services import jobqueue

    app.config.update(JOB_TIMEOUT_SECONDS=600, FILE_JOB_TIMEOUT_SECONDS=3600)
    assert jobqueue.request_job_options(app.config, "optout_import")["job_timeout"] == 3600
    assert jobqueue.request_job_options(app.config, "scrub")["job_timeout"] == 3600
    assert jobqueue.request_job_options(app.config, "erasure")["job_timeout"] == 600


@pytest.mark.parametrize("data", [
    b"email\r\n\x00@mail.kz\r\n", b"email\r\n\"a@mail.kz\r\n", b"email;phone\r\n=cmd|' /C calc'!A0;+7 701 555 12 34\r\n",
    b"email\r\n" + b"a@mail.kz," * 300 + b"\r\n", ("email\r\n" + "a@b.kz\r" * 1000).encode(),
    "email,channel\r\nанна@почта.қаз,ALL\r\n".encode(),
])
def test_hostile_files_the_upload_accepts_end_done_or_refused_never_failed(app, worker, data):
    try:
        run = optout_import_runs.start(Upload(data), by=None)
    except OptOutError:
        return  # refused at once: also fine
    worker.drain()
    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert run.status in ("done", "refused"), (run.status, run.failure)
    assert not optout_import_runs.file_path(run).exists()
    if run.status == "refused":
        assert run.problems and all(p["message"]["en"] for p in run.problems)
