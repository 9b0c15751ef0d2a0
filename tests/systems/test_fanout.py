"""Fan-out across the data map: one job per system, the request completes only when every system is done.

Real components: the booking site is a SQLite file with its own schema, the mailer a real HTTP server on 127.0.0.1
checking signatures; jobs run in the embedded worker (the same job functions RQ runs).
"""
import json
import time

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import Client
from backoffice.models.requests import APPROVED, COMPLETED, PrivacyRequest
from backoffice.models.systems import CANNOT, DONE, FAILED, PENDING, WAITING
from backoffice.services import fanout
from backoffice.services.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.jobfactories import approved_request
from tests.systems.conftest import SECRET, run_jobs, task_of
from tests.systems.sites import rows




def test_erasure_reaches_every_system_and_completes_only_when_all_are_done(app, worker, data_map, subject,
                                                                          receiver, site_url, make_staff):
    manager, support = make_staff("manager"), make_staff("support")
    request = approved_request(subject, "erasure", by=manager)

    queued = fanout.dispatch(request.id)

    assert len(queued) == 2  # the booking site and the mailer, in parallel; the back-office waits
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, request.id).status == APPROVED
    assert fanout.waiting_on(request.id) == ["Back-office database", "Paper archive"]
    assert rows(site_url, "SELECT email_addr FROM customers WHERE cust_id = 1") == [("erased-1",)]
    assert db.session.get(Client, subject.id).email == "Zhanar.Site@mail.kz"  # kept until every system is done
    # The mailer was sent the one identifier its dataset lists, signed.
    [(valid, body)] = receiver.calls
    assert valid and body["identifiers"] == {"email": ["zhanar.site@mail.kz"]} and body["type"] == "erasure"
    assert task_of(request, data_map["mailer"]).result == {"deleted": 1, "suppressed": True}

    fanout.confirm_manual(task_of(request, data_map["archive"]).id, request.id, support, "Folder 12 shredded")
    run_jobs(worker)

    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED and db.session.get(Client, subject.id).email is None
    systems = {row["system"]: row for row in done.certificate["systems"]}
    assert {name: row["status"] for name, row in systems.items()} == {
        "Back-office database": DONE, "Booking site": DONE, "Mailer": DONE, "Paper archive": DONE}
    site = systems["Booking site"]["result"]
    assert site["deleted"] == 1 and site["changed"] == 3
    assert systems["Paper archive"]["confirmed_by_staff_id"] == support.id
    assert systems["Mailer"]["country"] == "DE"
    assert done.certificate["outcome"] == "complete" and fanout.waiting_on(request.id) == []


def test_a_system_that_is_down_fails_and_retries_alone_while_the_others_complete(app, worker, data_map, subject,
                                                                                receiver, make_staff):
    manager = make_staff("manager")
    receiver.mode = "fail"
    request = approved_request(subject, "erasure", by=manager)
    fanout.dispatch(request.id)
    run_jobs(worker)

    mailer = task_of(request, data_map["mailer"])
    assert mailer.status == PENDING and mailer.attempts == 1 and "503" in mailer.error  # a retry is scheduled
    assert len(receiver.calls) == 2  # two calls with backoff inside the attempt
    assert worker.state(mailer.job_id) == "scheduled"
    assert task_of(request, data_map["site"]).status == DONE
    # The last attempt fails for good: the task is failed, the request stays open and says what it waits on.
    worker.submit(fanout.RUN_TASK_JOB, (mailer.id,), mailer.job_id, retries_left=0)
    run_jobs(worker)
    assert task_of(request, data_map["mailer"]).status == FAILED
    assert db.session.get(PrivacyRequest, request.id).status == APPROVED
    assert "Mailer" in fanout.waiting_on(request.id)
    assert db.session.get(Client, subject.id).status == "active"

    receiver.mode = "done"
    site_attempts = task_of(request, data_map["site"]).attempts
    fanout.retry_task(mailer.id, request.id, manager)
    fanout.record_cannot(task_of(request, data_map["archive"]).id, request.id, manager,
                         "Paper originals are evidence in a pending court case", "Civil Procedure Code art. 73")
    run_jobs(worker)
    assert task_of(request, data_map["mailer"]).status == DONE
    assert task_of(request, data_map["site"]).attempts == site_attempts  # the others were not run again
    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED and done.certificate["outcome"] == "partial"
    assert {"record_type": "system:Paper archive", "reason": "system_cannot", "count": 1,
            "legal_reference": "Civil Procedure Code art. 73"} in done.certificate["exceptions"]
    assert task_of(request, data_map["archive"]).status == CANNOT


def test_a_slow_system_times_out_as_a_transient_failure(app, worker, data_map, subject, receiver, make_staff):
    app.config["WEBHOOK_READ_TIMEOUT_SECONDS"] = 0.3
    receiver.mode = "slow"
    request = approved_request(subject, "erasure", by=make_staff("manager"))
    fanout.dispatch(request.id)
    run_jobs(worker)
    receiver.release()
    mailer = task_of(request, data_map["mailer"])
    assert mailer.status == PENDING and "did not answer in time" in mailer.error


def _signed(body, secret=SECRET, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret.encode(), timestamp, body)}


def test_a_system_that_confirms_later_settles_through_the_signed_callback(app, client, worker, data_map, subject,
                                                                         receiver, make_staff):
    receiver.mode = "later"
    request = approved_request(subject, "erasure", by=make_staff("manager"))
    fanout.dispatch(request.id)
    run_jobs(worker)
    mailer = task_of(request, data_map["mailer"])
    assert mailer.status == WAITING
    [(_, sent)] = receiver.calls
    assert sent["callback_url"] == f"http://127.0.0.1:5999/api/v1/systems/{data_map['mailer'].id}/confirm"
    url = f"/api/v1/systems/{data_map['mailer'].id}/confirm"
    body = json.dumps({"task_id": mailer.id, "status": "done", "result": {"deleted": 2, "name": "Zhanar"}}).encode()
    events = db.session.execute(select(AuditEvent.id)).scalars().all()

    for headers in (_signed(body, secret="wrong-secret"), _signed(body, timestamp=int(time.time()) - 3600),
                    {"Content-Type": "application/json"}, _signed(body + b" ")):
        refused = client.post(url, data=body if headers.get(SIGNATURE_HEADER, "") != _signed(body + b" ").get(
            SIGNATURE_HEADER) else body, headers=headers)
        assert refused.status_code == 401
    db.session.expire_all()
    assert task_of(request, data_map["mailer"]).status == WAITING  # nothing changed
    assert db.session.execute(select(AuditEvent.id)).scalars().all() == events
    other_system = f"/api/v1/systems/{data_map['site'].id}/confirm"
    assert client.post(other_system, data=body, headers=_signed(body)).status_code == 401

    accepted = client.post(url, data=body, headers=_signed(body))
    assert accepted.status_code == 200 and accepted.get_json() == {"task_id": mailer.id, "status": "done"}
    db.session.expire_all()
    assert task_of(request, data_map["mailer"]).result == {"deleted": 2}  # counts only: no personal data kept
    assert client.post(url, data=body, headers=_signed(body)).status_code == 200  # a replay changes nothing


def test_a_dataset_naming_a_missing_column_fails_that_system_cleanly(app, worker, data_map, subject, site_url,
                                                                    make_staff):
    site = data_map["site"]
    broken = json.loads(json.dumps(site.dataset))
    broken["tables"][0]["columns"]["full_nmae"] = "mask"
    site.dataset = broken
    db.session.commit()
    request = approved_request(subject, "erasure", by=make_staff("manager"))
    fanout.dispatch(request.id)
    run_jobs(worker)
    task = task_of(request, site)
    assert task.status == FAILED and "full_nmae" in task.error  # permanent: no retry is scheduled
    assert rows(site_url, "SELECT email_addr FROM customers WHERE cust_id = 1") == [("Zhanar.Site@mail.kz",)]
    assert task_of(request, data_map["mailer"]).status == DONE
    assert "Booking site" in fanout.waiting_on(request.id)


def test_access_package_holds_the_booking_site_rows_under_the_systems_name(app, worker, data_map, subject,
                                                                          make_staff):
    import io
    import zipfile

    from backoffice.models.jobs import ExportPackage

    support = make_staff("support")
    request = approved_request(subject, "access", by=make_staff("manager"))
    fanout.dispatch(request.id)
    run_jobs(worker)
    assert db.session.get(PrivacyRequest, request.id).status == APPROVED  # the paper archive is not confirmed
    fanout.confirm_manual(task_of(request, data_map["archive"]).id, request.id, support, "No folder for this client")
    run_jobs(worker)
    done = db.session.get(PrivacyRequest, request.id)
    assert done.status == COMPLETED
    package = db.session.execute(select(ExportPackage).where(ExportPackage.request_id == request.id)).scalar_one()
    with zipfile.ZipFile(package.path) as archive:
        data = json.loads(archive.read("data.json"))
        trips = archive.read("systems/booking-site/trips.csv").decode("utf-8-sig")
        summary = archive.read("summary.html").decode()
    site = data["systems"]["Booking site"]
    assert [row["email_addr"] for row in site["customers"]] == ["Zhanar.Site@mail.kz"]
    assert sorted(row["trip_id"] for row in site["trips"]) == [10, 11] and "ZHANAR SITEOVA" in trips
    assert "Booking site (другая система авиакомпании)" in summary  # the client reads Russian
    assert task_of(request, data_map["site"]).status == DONE and task_of(request, data_map["site"]).result == {"rows": 4}


def test_the_documented_signature_example_is_what_we_compute():
    body = (b'{"callback_url":"http://127.0.0.1:5000/api/v1/systems/3/confirm","identifiers":{"email":'
            b'["zhanar@mail.kz"]},"request_id":7,"system_id":3,"task_id":12,"type":"erasure"}')
    assert sign(b"s3cret", 1764580000, body) == (
        "sha256=13197557c2005b2109cc7e78b2c020e379691c8bd5747921bad1c84dfc39027b")
