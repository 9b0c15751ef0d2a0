"""Rectification, blocking and its lifting reach every system of the data map (policy 5.2; Law No. 94-V art. 1(3)).

The back-office applies the change first (the staff step, or the periodic pass for an expired block); every other
system taking part gets its own job; the request completes only when all are done. Real components: the booking
site is a SQLite file with its own schema (the connector runs on PostgreSQL too: test_sql_connector.py), the
mailer a real HTTP server on 127.0.0.1 checking signatures; jobs run in the embedded worker.
"""
import datetime as dt
import json
import logging

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import Client
from backoffice.models.jobs import JobRecord
from backoffice.models.requests import (
    BLOCKING, COMPLETED, EXECUTING, FAILED, RECTIFICATION, UNBLOCKING, PrivacyRequest,
)
from backoffice.models.systems import DONE, PENDING
from backoffice.services import blocking, datamap, execution, fanout, intake
from backoffice.services import datasets
from backoffice.services.lifecycle import IllegalTransition
from backoffice.services.steps import take_step
from tests.systems.conftest import run_jobs, task_of
from tests.systems.sites import rows

NEW_EMAIL = "zhanar.new@mail.kz"


@pytest.fixture
def data_map_52(data_map):
    """The same systems, now also taking part in rectification and blocking; the mailer holds the e-mail only."""
    for system in data_map.values():
        system.request_types = [*system.request_types, RECTIFICATION, BLOCKING]
    data_map["mailer"].dataset = {"identifiers": ["email"], "fields": ["email"]}
    for system in data_map.values():
        datamap.validate(system)
    db.session.commit()
    return data_map




def _in_progress(type_, client, by, payload=None):
    request = intake.create_request(type=type_, by=by, client=client, payload=payload)
    take_step(request, "verify_identity", by, method="registered_email")
    take_step(request, "start", by)
    return request


def _rectified(subject, by, **changes):
    request = _in_progress(RECTIFICATION, subject, by, {"changes": changes})
    take_step(request, "complete", by, outcome="Corrected as the client asked")
    db.session.expire_all()
    return db.session.get(PrivacyRequest, request.id)


def test_rectification_reaches_every_system_and_completes_only_when_all_are_done(
        app, worker, data_map_52, subject, receiver, site_url, make_staff, caplog):
    caplog.set_level(logging.DEBUG)
    support = make_staff("support")

    request = _rectified(subject, support, email=NEW_EMAIL, full_name="Zhanar Newname")

    # The back-office first: changed at once, its task done; the request waits for the others.
    assert request.status == EXECUTING and request.completed_at is None
    assert db.session.get(Client, subject.id).email_norm == NEW_EMAIL
    assert fanout.waiting_on(request.id) == ["Booking site", "Mailer", "Paper archive"]
    run_jobs(worker)

    assert rows(site_url, "SELECT email_addr, full_name FROM customers WHERE cust_id = 1") == [
        (NEW_EMAIL, "Zhanar Newname")]  # found by the old e-mail, which the site still had
    assert rows(site_url, "SELECT passenger FROM trips WHERE cust_ref = 1") == [("Zhanar Newname",)] * 2
    assert rows(site_url, "SELECT full_name FROM customers WHERE cust_id = 2") == [("Other Person",)]
    # The mailer holds the e-mail only: it is sent that field's new value, never the name; found by old and new.
    [(valid, body)] = receiver.calls
    assert valid and body["type"] == "rectification" and body["request_id"] == request.id
    assert body["changes"] == {"email": NEW_EMAIL}
    assert body["identifiers"] == {"email": [NEW_EMAIL, "zhanar.site@mail.kz"]}
    assert task_of(request, data_map_52["mailer"]).result == {"updated": 1}
    site = task_of(request, data_map_52["site"]).result
    assert [(t["table"], t["changed"], t["fields"]) for t in site["tables"]] == [
        ("customers", 1, ["email", "full_name"]), ("trips", 2, ["full_name"])]
    assert db.session.get(PrivacyRequest, request.id).status == EXECUTING
    assert fanout.waiting_on(request.id) == ["Paper archive"]

    fanout.confirm_manual(task_of(request, data_map_52["archive"]).id, request.id, support, "Card index corrected")
    run_jobs(worker)

    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED and done.completed_at is not None
    assert done.outcome == "Corrected as the client asked"
    assert "previous" not in done.payload  # the replaced e-mail served only to find the rows
    assert {task.status for task in fanout.tasks_of(request.id)} == {DONE}
    completion = db.session.execute(select(JobRecord).where(JobRecord.request_id == request.id,
                                                            JobRecord.kind == "completion")).scalar_one()
    assert completion.status == "finished"
    # New values appear in no log line and no audit detail (field names and ids only).
    assert NEW_EMAIL not in caplog.text and "Newname" not in caplog.text
    details = db.session.execute(select(AuditEvent.details)).scalars().all()
    assert not [d for d in details if d and (NEW_EMAIL in d or "Newname" in d or "zhanar.site" in d)]


def test_a_system_holding_none_of_the_changed_fields_is_told_nothing(app, worker, data_map_52, subject, receiver,
                                                                    site_url, make_staff):
    data_map_52["archive"].enabled = False
    db.session.commit()
    request = _rectified(subject, make_staff("support"), position="Chief accountant")
    run_jobs(worker)
    assert receiver.calls == []  # the mailer holds no position: not even the identifiers are sent
    assert task_of(request, data_map_52["mailer"]).status == DONE
    assert task_of(request, data_map_52["site"]).result["tables"] == []
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED


def test_a_system_that_is_down_fails_and_retries_alone_while_the_request_waits_on_it(
        app, client, worker, data_map_52, subject, receiver, site_url, make_staff, login_as):
    manager = make_staff("manager")
    receiver.mode = "fail"
    request = _rectified(subject, make_staff("support"), email=NEW_EMAIL)
    run_jobs(worker)

    mailer = task_of(request, data_map_52["mailer"])
    assert mailer.status == PENDING and mailer.attempts == 1 and "503" in mailer.error
    assert worker.state(mailer.job_id) == "scheduled"  # a later attempt
    assert task_of(request, data_map_52["site"]).status == DONE
    assert rows(site_url, "SELECT email_addr FROM customers WHERE cust_id = 1") == [(NEW_EMAIL,)]
    worker.submit(fanout.RUN_TASK_JOB, (mailer.id,), mailer.job_id, retries_left=0)  # the last attempt
    run_jobs(worker)
    assert task_of(request, data_map_52["mailer"]).status == "failed"
    assert db.session.get(PrivacyRequest, request.id).status == EXECUTING
    login_as("manager")
    page = client.get(f"/admin/requests/details/?id={request.id}").get_data(as_text=True)
    assert "Waiting on: Mailer, Paper archive" in page
    tasks = " ".join(page.split('id="system-tasks"')[1].split("</table>")[0].split())
    assert "changed: E-mail" in tasks  # the back-office's own part, by field label (never the value)
    assert "customers: found 1, updated 1 (E-mail)" in tasks and NEW_EMAIL not in tasks

    receiver.mode = "done"
    site_attempts = task_of(request, data_map_52["site"]).attempts
    fanout.retry_task(mailer.id, request.id, manager)
    fanout.record_cannot(task_of(request, data_map_52["archive"]).id, request.id, manager,
                         "The card index was destroyed in 2020", "Law on archives, art. 16")
    run_jobs(worker)
    assert task_of(request, data_map_52["mailer"]).status == DONE
    assert task_of(request, data_map_52["site"]).attempts == site_attempts  # not run again
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED


def _blocked(subject, support, manager, until=None):
    request = _in_progress(BLOCKING, subject, support, {"blocked_until": until})
    take_step(request, "submit_for_approval", support)
    take_step(request, "approve", manager, comment="The client disputes the accuracy of the data")
    take_step(request, "complete", support)
    db.session.expire_all()
    return db.session.get(PrivacyRequest, request.id)


def test_blocking_and_its_lifting_reach_every_system(app, worker, data_map_52, subject, receiver, site_url,
                                                     make_staff):
    support, manager = make_staff("support"), make_staff("manager")
    archive = data_map_52["archive"]

    block = _blocked(subject, support, manager)
    assert block.status == EXECUTING and db.session.get(Client, subject.id).status == "blocked"
    run_jobs(worker)
    assert rows(site_url, "SELECT cust_id FROM customers WHERE on_hold") == [(1,)]
    [(valid, body)] = receiver.calls
    assert valid and body["type"] == "blocking" and "changes" not in body
    assert body["identifiers"] == {"email": ["zhanar.site@mail.kz"]}
    # Lifting must wait until the block itself has reached every system.
    lifting = _in_progress(UNBLOCKING, subject, support)
    with pytest.raises(IllegalTransition, match=f"#{block.id}"):
        take_step(lifting, "complete", support)
    fanout.confirm_manual(task_of(block, archive).id, block.id, support, "Folder marked as blocked")
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, block.id).status == COMPLETED

    take_step(db.session.get(PrivacyRequest, lifting.id), "complete", support)
    db.session.expire_all()
    assert db.session.get(Client, subject.id).status == "active"
    assert db.session.get(PrivacyRequest, lifting.id).status == EXECUTING
    run_jobs(worker)
    assert rows(site_url, "SELECT count(*) FROM customers WHERE on_hold") == [(0,)]
    assert [body["type"] for _, body in receiver.calls] == ["blocking", "unblocking"]
    assert task_of(lifting, data_map_52["mailer"]).result == {"blocked": False}
    fanout.confirm_manual(task_of(lifting, archive).id, lifting.id, support, "Mark removed")
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, lifting.id).status == COMPLETED


def test_the_periodic_pass_lifts_an_expired_block_in_every_system(app, worker, data_map_52, subject, receiver,
                                                                  site_url, make_staff):
    support, manager = make_staff("support"), make_staff("manager")
    block = _blocked(subject, support, manager, until=(dt.date.today() + dt.timedelta(days=30)).isoformat())
    fanout.confirm_manual(task_of(block, data_map_52["archive"]).id, block.id, support, "Folder marked")
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, block.id).status == COMPLETED
    assert rows(site_url, "SELECT cust_id FROM customers WHERE on_hold") == [(1,)]

    later = dt.date.today() + dt.timedelta(days=31)
    assert blocking.lift_expired_blocks(today=later) == [subject.id]

    db.session.expire_all()
    assert db.session.get(Client, subject.id).status == "active"
    lifting = db.session.execute(select(PrivacyRequest).where(PrivacyRequest.type == UNBLOCKING)).scalar_one()
    assert lifting.status == EXECUTING and lifting.created_by_id is None and lifting.client_id == subject.id
    assert [event.action for event in lifting.events] == ["create", "block_ended"]
    run_jobs(worker)
    assert rows(site_url, "SELECT count(*) FROM customers WHERE on_hold") == [(0,)]
    assert receiver.calls[-1][1]["type"] == "unblocking"
    assert fanout.waiting_on(lifting.id) == ["Paper archive"]
    assert blocking.lift_expired_blocks(today=later) == []  # a second pass opens nothing more
    fanout.confirm_manual(task_of(lifting, data_map_52["archive"]).id, lifting.id, support, "Mark removed")
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, lifting.id).status == COMPLETED
    assert db.session.execute(select(func.count()).select_from(PrivacyRequest)
                              .where(PrivacyRequest.type == UNBLOCKING)).scalar() == 1


def test_reconcile_requeues_a_lost_completion_job_and_a_failed_one_is_retried(app, worker, data_map_52, subject,
                                                                             make_staff):
    data_map_52["archive"].enabled = False
    db.session.commit()
    request = _rectified(subject, make_staff("support"), full_name="Zhanar Newname")
    for _ in range(2):  # the two system jobs run; the completion job they queue is then lost (Redis flushed)
        worker._execute(worker._queue.get_nowait())
    assert [item[0] for item in worker._queue.queue] == ["backoffice.jobs.systems.complete_after_systems"]
    worker._queue.queue.clear()
    worker._states.clear()
    db.session.execute(JobRecord.__table__.update().values(enqueued_at=dt.datetime(2000, 1, 1)))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == EXECUTING

    assert execution.reconcile(stale_after=0) == [request.id]
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED

    # A completion job that fails for good fails the request; a manager's retry completes it.
    manager = make_staff("manager")
    other = _rectified(subject, make_staff("support"), position="Director")
    for _ in range(2):
        worker._execute(worker._queue.get_nowait())
    worker._queue.queue.clear()  # its completion job fails for good
    worker._states.clear()
    assert execution.mark_failed(other.id, "completion attempt failed: OperationalError (transient)")
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, other.id).status == FAILED
    execution.retry_request(other.id, manager)
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, other.id).status == COMPLETED


def test_a_dataset_for_rectification_or_blocking_must_say_what_to_change(app):
    with pytest.raises(datasets.DatasetError, match="“fields” must map some of"):
        datasets.parse({"tables": [{"table": "t", "match": {"email": "e"}, "columns": {"e": "mask"},
                                    "fields": {"nickname": "e"}}]})
    with pytest.raises(datasets.DatasetError, match="“fields” must list some of"):
        datasets.parse({"fields": ["password"]})
    sql = dict(name="CRM", owner="Sales", kind="sql", connection_env="CRM_URL", country="KZ",
               dataset={"tables": [{"table": "people", "match": {"email": "mail"}, "columns": {"mail": "mask"}}]})
    from backoffice.models.systems import DataSystem

    with pytest.raises(datamap.SystemInvalid) as refused:
        datamap.validate(DataSystem(request_types=["rectification"], **sql))
    assert "fields" in str(refused.value.field_errors["dataset"])
    with pytest.raises(datamap.SystemInvalid) as refused:
        datamap.validate(DataSystem(request_types=["blocking"], **sql))
    assert "block" in str(refused.value.field_errors["dataset"])
    with pytest.raises(datamap.SystemInvalid):
        datamap.validate(DataSystem(name="Mailer", owner="M", kind="webhook", secret_env="S", country="KZ",
                                    webhook_url="https://mailer.example/privacy", request_types=["rectification"],
                                    dataset={"identifiers": ["email"]}))
    ok = dict(sql, dataset=json.loads(json.dumps(sql["dataset"])))
    ok["dataset"]["tables"][0].update(fields={"email": "mail"}, block="blocked")
    assert datamap.validate(DataSystem(request_types=["rectification", "blocking"], **ok))
