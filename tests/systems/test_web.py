"""The data map and the system tasks in the back-office pages: who may do what, and what the pages say."""
import datetime as dt
import json

from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.jobs import JobRecord
from backoffice.models.requests import COMPLETED, PrivacyRequest
from backoffice.models.systems import DONE, FAILED, PENDING, WAITING, DataSystem
from backoffice.services import execution, fanout
from tests.jobfactories import approved_request
from tests.systems.conftest import run_jobs, task_of




def test_request_page_says_what_it_waits_on_and_the_owner_confirms_the_manual_system(
        app, client, worker, data_map, subject, make_staff, login_as):
    manager = make_staff("manager")
    request = approved_request(subject, "erasure", by=manager)
    fanout.dispatch(request.id)
    run_jobs(worker)
    support = login_as("support")
    page = client.get(f"/admin/requests/details/?id={request.id}").get_data(as_text=True)
    assert "Waiting on: Back-office database, Paper archive" in page
    assert "Booking site" in page and "kept loyalty_no (Tax Code art. 48" in page
    archive = task_of(request, data_map["archive"])

    # A support user cannot record "cannot be done" (managers only), nor retry.
    assert client.post(f"/admin/systemtasks/{request.id}/{archive.id}/cannot",
                       data={"comment": "x", "legal_reference": "y"}).status_code == 403
    empty = client.post(f"/admin/systemtasks/{request.id}/{archive.id}/confirm", data={"comment": ""})
    assert empty.status_code == 302
    db.session.expire_all()
    assert task_of(request, data_map["archive"]).status == WAITING  # nothing changed

    done = client.post(f"/admin/systemtasks/{request.id}/{archive.id}/confirm",
                       data={"comment": "Folder 12 shredded"}, follow_redirects=True)
    assert done.status_code == 200
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED
    assert task_of(request, data_map["archive"]).confirmed_by_id == support.id


def test_reconcile_requeues_a_lost_system_job_and_leaves_waiting_ones_alone(app, worker, data_map, subject,
                                                                           make_staff):
    request = approved_request(subject, "erasure", by=make_staff("manager"))
    fanout.dispatch(request.id)
    worker._queue.queue.clear()  # the queue forgot both system jobs (Redis flushed)
    worker._states.clear()
    site = task_of(request, data_map["site"])
    db.session.execute(JobRecord.__table__.update().values(enqueued_at=dt.datetime(2000, 1, 1)))
    db.session.commit()
    assert site.status == PENDING

    assert execution.reconcile(stale_after=0) == [request.id]
    run_jobs(worker)
    assert task_of(request, data_map["site"]).status == DONE and task_of(request, data_map["mailer"]).status == DONE
    # Only the paper archive (a person) is left: reconcile has nothing to queue and records nothing.
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    assert execution.reconcile(stale_after=0) == []
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == events


def test_admin_manages_the_data_map_and_a_bad_dataset_saves_nothing(app, client, data_map, login_as):
    login_as("admin")
    listing = client.get("/admin/systems/").get_data(as_text=True)
    assert "Back-office database" in listing and "cross-border transfer (art. 12)" in listing
    count = db.session.execute(select(func.count()).select_from(DataSystem)).scalar()
    bad = {"name": "CRM", "owner": "Sales", "kind": "sql", "request_types": ["erasure"], "country": "KZ",
           "connection_env": "CRM_URL", "dataset": json.dumps({"tables": [{"table": "people", "columns": {"a": "zap"}}]}),
           "enabled": "y"}
    response = client.post("/admin/systems/new/", data=bad, follow_redirects=True)
    assert response.status_code == 200 and "unknown action zap" in response.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(DataSystem)).scalar() == count
    good = dict(bad, dataset=json.dumps({"tables": [{"table": "people", "match": {"email": "mail"},
                                                      "columns": {"mail": "delete row"}}]}))
    assert client.post("/admin/systems/new/", data=good).status_code == 302
    crm = db.session.execute(select(DataSystem).where(DataSystem.name == "CRM")).scalar_one()
    assert crm.dataset["tables"][0]["columns"] == {"mail": "delete row"} and crm.request_types == ["erasure"]
    backoffice = db.session.execute(select(DataSystem).where(DataSystem.kind == "backoffice")).scalar_one()
    client.post("/admin/systems/delete/", data={"id": backoffice.id})
    assert db.session.get(DataSystem, backoffice.id) is not None


def test_a_manager_retries_one_failed_system_from_the_request_page(app, client, worker, data_map, subject,
                                                                  receiver, make_staff, login_as):
    receiver.mode = "fail"
    request = approved_request(subject, "erasure", by=make_staff("manager"))
    fanout.dispatch(request.id)
    run_jobs(worker)
    mailer = task_of(request, data_map["mailer"])
    worker.submit(fanout.RUN_TASK_JOB, (mailer.id,), mailer.job_id, retries_left=0)
    run_jobs(worker)
    assert task_of(request, data_map["mailer"]).status == FAILED
    receiver.mode = "done"
    login_as("manager")
    assert client.post(f"/admin/systemtasks/{request.id}/{mailer.id}/retry").status_code == 302
    run_jobs(worker)
    assert task_of(request, data_map["mailer"]).status == DONE


def test_jobs_view_names_the_system_and_retries_only_that_system(app, client, worker, data_map, subject, receiver,
                                                                make_staff, login_as):
    receiver.mode = "fail"
    request = approved_request(subject, "erasure", by=make_staff("manager"))
    fanout.dispatch(request.id)
    run_jobs(worker)
    mailer = task_of(request, data_map["mailer"])
    worker.submit(fanout.RUN_TASK_JOB, (mailer.id,), mailer.job_id, retries_left=0)
    run_jobs(worker)
    site_attempts = task_of(request, data_map["site"]).attempts
    login_as("manager")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "system: Mailer (failed)" in page
    receiver.mode = "done"
    assert client.post(f"/admin/jobs/retry/{mailer.job_id}").status_code == 302
    run_jobs(worker)
    assert task_of(request, data_map["mailer"]).status == DONE
    assert task_of(request, data_map["site"]).attempts == site_attempts
