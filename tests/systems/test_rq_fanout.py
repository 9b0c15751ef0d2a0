"""The fan-out on a real Redis with a real RQ worker: one job per system, ids only in Redis, retry alone."""
import pytest
from rq import SimpleWorker
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.requests import APPROVED, COMPLETED, PrivacyRequest
from backoffice.models.systems import DONE, FAILED, SystemTask
from backoffice.services import fanout, jobqueue
from tests.conftest import redis_url, require_service
from tests.jobfactories import approved_request
from tests.systems.sites import rows


@pytest.fixture
def app_config(app_config):
    require_service("Redis", redis_url(), 6379)
    app_config["REDIS_URL"] = redis_url()
    app_config["JOB_RETRY_INTERVALS"] = [0]
    return app_config


@pytest.fixture
def queue(app):
    q = jobqueue.rq_queue()
    yield q
    connection = jobqueue.redis_connection()
    for key in connection.scan_iter(f"*{q.name}*"):
        connection.delete(key)


def _burst(queue):
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
    db.session.expire_all()


def _task(request, system):
    return db.session.execute(select(SystemTask).where(SystemTask.request_id == request.id,
                                                       SystemTask.system_id == system.id)).scalar_one()


def test_fan_out_through_rq_with_a_failing_system_retried_alone(app, queue, data_map, subject, receiver, site_url,
                                                               make_staff):
    manager = make_staff("manager")
    archive = data_map["archive"]
    archive.enabled = False  # nobody to confirm in this test
    db.session.commit()
    receiver.mode = "fail"
    request = approved_request(subject, "erasure", by=manager)
    job_ids = fanout.dispatch(request.id)
    assert len(job_ids) == 2
    assert {queue.fetch_job(job_id).args for job_id in job_ids} == {
        (_task(request, data_map["site"]).id,), (_task(request, data_map["mailer"]).id,)}  # ids only in Redis

    for _ in range(5):  # the mailer's attempts run out (RQ retries with interval 0)
        _burst(queue)
        if _task(request, data_map["mailer"]).status == FAILED:
            break
    assert _task(request, data_map["mailer"]).status == FAILED
    assert _task(request, data_map["site"]).status == DONE
    assert rows(site_url, "SELECT email_addr FROM customers WHERE cust_id = 1") == [("erased-1",)]
    assert db.session.get(PrivacyRequest, request.id).status == APPROVED

    receiver.mode = "done"
    fanout.retry_task(_task(request, data_map["mailer"]).id, request.id, manager)
    _burst(queue)  # the mailer, then the back-office job it releases
    _burst(queue)
    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED
    assert {row["status"] for row in done.certificate["systems"]} == {DONE}


def test_rectification_fans_out_through_rq_and_the_completion_job_closes_it(app, queue, data_map, subject,
                                                                            receiver, site_url, make_staff):
    from backoffice.models.jobs import JobRecord
    from backoffice.models.requests import EXECUTING, RECTIFICATION
    from backoffice.services import intake
    from backoffice.services.steps import take_step

    support = make_staff("support")
    for system in (data_map["site"], data_map["mailer"]):
        system.request_types = [*system.request_types, RECTIFICATION]
    data_map["mailer"].dataset = {"identifiers": ["email"], "fields": ["email"]}
    data_map["archive"].enabled = False
    db.session.commit()
    request = intake.create_request(type=RECTIFICATION, by=support, client=subject,
                                    payload={"changes": {"email": "zhanar.new@mail.kz"}})
    take_step(request, "verify_identity", support, method="registered_email")
    take_step(request, "start", support)
    take_step(request, "complete", support)
    assert db.session.get(PrivacyRequest, request.id).status == EXECUTING
    jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
    assert sorted(job.args for job in jobs) == sorted(
        [(_task(request, data_map["site"]).id,), (_task(request, data_map["mailer"]).id,)])  # ids only in Redis
    assert not [job for job in jobs if "zhanar" in repr(job.to_dict()).lower()]

    _burst(queue)  # both systems, then the completion job the last of them queues
    _burst(queue)
    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED
    assert rows(site_url, "SELECT email_addr FROM customers WHERE cust_id = 1") == [("zhanar.new@mail.kz",)]
    kinds = db.session.execute(select(JobRecord.kind, JobRecord.status).where(JobRecord.request_id == request.id)
                               ).all()
    assert sorted(kinds) == [("completion", "finished"), ("system", "finished"), ("system", "finished")]
