"""The opt-out import through a real worker (issue 13): RQ on the Redis TEST_REDIS_URL names (an in-process RQ
worker), and the embedded worker on SQLite; the upload only queues the run's id, the worker imports."""
import io
import json

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.jobs import FINISHED, JobRecord
from backoffice.models.optouts import MarketingOptOut, OptOutImport
from backoffice.services import jobqueue, optout_import_runs
from tests.conftest import redis_url, require_service


@pytest.fixture(params=["embedded", "rq"])
def app_config(request, app_config):
    if request.param == "rq":
        require_service("Redis", redis_url(), 6379)
        app_config["REDIS_URL"] = redis_url()
    return app_config


@pytest.fixture
def run_worker(app):
    """Run what is queued, in the mode of this app: an RQ worker in burst mode, or the embedded worker."""
    if not app.config["REDIS_URL"]:
        yield app.extensions["embedded_worker"].drain
        return
    queue = jobqueue.rq_queue()
    yield lambda: SimpleWorker([queue], connection=queue.connection).work(burst=True)
    for key in queue.connection.scan_iter(f"*{queue.name}*"):
        queue.connection.delete(key)


def opt_outs():
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(MarketingOptOut)).scalar()


def test_upload_then_worker_then_page(app, client, login_as, run_worker):
    login_as("manager")
    text = "email,phone,channel\n" + "".join(f"w{i}@mail.kz,,all\n" for i in range(5)) + ",8 701 555 12 34,sms\n"
    response = client.post("/admin/optouts/import/", data={"file": (io.BytesIO(text.encode()), "list.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    run = db.session.execute(select(OptOutImport)).scalar_one()
    assert opt_outs() == 0  # queued, not imported
    if app.config["REDIS_URL"]:
        job = jobqueue.rq_queue().fetch_job(run.job_id)
        assert job.args == (run.id,) and job.kwargs == {}  # the run's id only: no address in Redis
        assert job.timeout == app.config["FILE_JOB_TIMEOUT_SECONDS"]
        assert "mail.kz" not in json.dumps(job.to_dict(), default=str)

    run_worker()

    db.session.expire_all()
    run = db.session.get(OptOutImport, run.id)
    assert (run.status, run.added, run.merged, run.rows_done) == ("done", 6, 0, 6)
    assert opt_outs() == 6 and not optout_import_runs.file_path(run).exists()
    assert db.session.get(JobRecord, run.job_id).status == FINISHED
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Done: 6 added, 0 already on the list, 0 rejected." in page
    jobs_page = client.get("/admin/jobs/").get_data(as_text=True)
    assert run.job_id[:12] in jobs_page and "Opt-out import" in jobs_page


def test_bad_rows_through_the_worker_are_reported_and_nothing_imported(app, client, login_as, run_worker):
    login_as("support")
    text = "email,channel\nok@mail.kz,all\nnope,all\nok2@mail.kz,carrier-pigeon\n"
    response = client.post("/admin/optouts/import/", data={"file": (io.BytesIO(text.encode()), "list.csv")},
                           content_type="multipart/form-data")
    run_worker()
    db.session.expire_all()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing was imported: 2 rows have errors" in page
    assert "<td>3</td>" in page and "<td>4</td>" in page and "Channel must be one of" in page
    assert opt_outs() == 0
    run = db.session.execute(select(OptOutImport)).scalar_one()
    assert run.status == "refused" and not optout_import_runs.file_path(run).exists()


def test_the_jobs_page_names_a_failed_import_and_says_what_to_do(app, client, login_as, run_worker, monkeypatch):
    from backoffice.services import optout_import

    def broken(rows, by):
        raise RuntimeError("a bug")

    monkeypatch.setattr(optout_import, "apply_batch", broken)
    login_as("manager")
    client.post("/admin/optouts/import/", data={"file": (io.BytesIO(b"email\na@mail.kz\n"), "list.csv")},
                content_type="multipart/form-data")
    run_worker()
    db.session.expire_all()
    run = db.session.execute(select(OptOutImport)).scalar_one()
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert f'href="/admin/optouts/import/{run.id}/">#{run.id}</a>' in page
    assert "open the import (its page says what happened)" in page and "RuntimeError" in page
    status_page = client.get(f"/admin/optouts/import/{run.id}/").get_data(as_text=True)
    assert "Failed: 0 of 1 rows were imported." in status_page and "Upload the same file again" in status_page
