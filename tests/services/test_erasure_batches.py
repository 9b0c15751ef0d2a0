"""Bulk approval's erasures in batches (issue 16): one commit for the batch, a savepoint per subject.

A bad subject fails alone and keeps its data; a transient error leaves every subject untouched for the retry;
a batch run again issues no second certificate.
"""
import re

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.jobs import erasure as erasure_jobs
from backoffice.jobs.base import JobContext, JobFailed, embedded_context
from backoffice.models.clients import BLOCKED, ERASED, Client
from backoffice.models.jobs import FAILED, FINISHED, LOST, RETRYING, STARTED, JobRecord
from backoffice.models.records import Communication
from backoffice.models.requests import APPROVED, AWAITING_APPROVAL, COMPLETED, ERASURE, PrivacyRequest, RequestEvent
from backoffice.services import audit, bulk, erasure, erasure_batches, jobqueue
from tests.jobfactories import approved_request, seeded_client, text_hits
from tests.services.conftest import RecordingWorker
from tests.services.requestkit import new_request


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def _batch(requests, batch_id="batch-1"):
    """Job records for `requests` as bulk approval leaves them: each its own, all naming one batch job."""
    for privacy_request in requests:
        record_id = f"{batch_id}-{privacy_request.id}"
        db.session.add(JobRecord(id=record_id, kind="erasure", func=jobqueue.ERASURE_BATCH_JOB,
                                 request_id=privacy_request.id, batch_job_id=batch_id))
        privacy_request.job_id = record_id
    db.session.commit()
    return batch_id


def _commits_during(action):
    """`action()` and the number of database COMMITs it sent (a savepoint's release is not one)."""
    commits = []
    listener = lambda _connection: commits.append(1)  # noqa: E731
    event.listen(db.engine, "commit", listener)
    try:
        result = action()
    finally:
        event.remove(db.engine, "commit", listener)
    return result, len(commits)


def _raise_for(monkeypatch, request_id, error):
    """The erasure of `request_id` raises `error` before it writes anything; every other subject's runs."""
    real_erase = erasure._erase

    def erase_or_raise(privacy_request, client, *args):
        if privacy_request.id == request_id:
            raise error
        return real_erase(privacy_request, client, *args)

    monkeypatch.setattr(erasure, "_erase", erase_or_raise)


def test_a_batch_erases_every_subject_in_one_commit_and_certifies_each(app, manager):
    subjects = [seeded_client(f"batch{n}", 300 + n) for n in range(3)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    batch_id = _batch(requests)

    outcome, commits = _commits_during(
        lambda: erasure_batches.erase_batch([r.id for r in reversed(requests)], batch_job_id=batch_id))

    # The members marked started; the erasures; every subject's check of its own erasure. (COMMITs SQLAlchemy sends:
    # SQLite's driver committing at a savepoint's release is caught by the lost-connection test below.)
    assert commits == 3
    assert outcome == {"completed": sorted(r.id for r in requests), "failed": [], "noop": [], "requeued": []}
    db.session.expire_all()
    for (client, strings), privacy_request in zip(subjects, requests):
        done = db.session.get(PrivacyRequest, privacy_request.id)
        assert done.status == COMPLETED and done.certificate["request_id"] == done.id
        assert db.session.get(Client, client.id).status == ERASED
        assert db.session.get(JobRecord, done.job_id).status == FINISHED
        for value in strings[:2]:
            assert text_hits(value) == [], value
    assert audit.verify().ok


def test_a_blocked_subject_fails_alone_and_keeps_its_data(app, manager):
    (ok_client, ok_strings), (blocked, blocked_strings) = seeded_client("okb", 311), seeded_client("blk", 312)
    blocked.status = BLOCKED
    db.session.commit()
    ok, refused = approved_request(ok_client, "erasure", by=manager), approved_request(blocked, "erasure", by=manager)
    batch_id = _batch([ok, refused])

    outcome = erasure_batches.erase_batch([ok.id, refused.id], batch_job_id=batch_id)

    assert outcome == {"completed": [ok.id], "failed": [refused.id], "noop": [], "requeued": []}
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, ok.id).status == COMPLETED and text_hits(ok_strings[0]) == []
    failed = db.session.get(PrivacyRequest, refused.id)
    assert failed.status == "failed" and "1(3)" in system_notes.render(failed.outcome) and failed.certificate is None
    record = db.session.get(JobRecord, failed.job_id)
    assert record.status == FAILED and "1(3)" in system_notes.render(record.error)
    assert text_hits(blocked_strings[0]) and text_hits(blocked_strings[1])
    assert db.session.get(Client, blocked.id).status == BLOCKED
    assert audit.verify().ok


def test_a_subject_whose_erasure_breaks_midway_is_rolled_back_alone(app, manager, monkeypatch):
    subjects = [seeded_client(f"mid{n}", 320 + n) for n in range(3)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    broken = requests[1]
    real_erase = erasure._erase

    def erase_then_break(privacy_request, client, *args):
        summary = real_erase(privacy_request, client, *args)  # its writes are done when it breaks
        if privacy_request.id == broken.id:
            raise ValueError("a bug after the writes")
        return summary

    monkeypatch.setattr(erasure, "_erase", erase_then_break)
    outcome = erasure_batches.erase_batch([r.id for r in requests], batch_job_id=_batch(requests))

    assert outcome["failed"] == [broken.id] and len(outcome["completed"]) == 2
    db.session.expire_all()
    broken_client, broken_strings = subjects[1]
    assert db.session.get(Client, broken_client.id).status != ERASED
    assert all(text_hits(value) for value in broken_strings[:2])  # its savepoint took its writes back
    failed = db.session.get(PrivacyRequest, broken.id)
    assert failed.status == "failed" and system_notes.render(failed.outcome).startswith("Unexpected error (ValueError)")
    assert [db.session.get(PrivacyRequest, r.id).status for r in (requests[0], requests[2])] == [COMPLETED] * 2
    assert audit.verify().ok


def test_running_a_batch_again_certifies_nothing_twice(app, manager):
    subjects = [seeded_client(f"again{n}", 330 + n) for n in range(2)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    batch_id = _batch(requests)
    erasure_batches.erase_batch([r.id for r in requests], batch_job_id=batch_id)
    db.session.expire_all()
    certificates = {r.id: db.session.get(PrivacyRequest, r.id).certificate for r in requests}

    # Run again without the batch's records (all closed now): the completed check under the row lock decides.
    outcome = erasure_batches.erase_batch([r.id for r in requests])

    assert outcome == {"completed": [], "failed": [], "noop": sorted(certificates), "requeued": []}
    db.session.expire_all()
    assert {r.id: db.session.get(PrivacyRequest, r.id).certificate for r in requests} == certificates
    completions = db.session.execute(select(func.count()).select_from(RequestEvent).where(
        RequestEvent.request_id.in_(list(certificates)), RequestEvent.to_status == COMPLETED)).scalar()
    assert completions == 2


def test_a_lost_connection_leaves_every_subject_untouched_for_the_retry(app, manager, monkeypatch):
    subjects = [seeded_client(f"tr{n}", 340 + n) for n in range(2)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    batch_id = _batch(requests)
    _raise_for(monkeypatch, requests[1].id,
               OperationalError("UPDATE client", {}, Exception("server closed the connection")))
    monkeypatch.setattr(erasure_batches, "_connected", lambda: False)  # the batch's transaction cannot go on
    with embedded_context(JobContext(batch_id, retries_left=2)), pytest.raises(JobFailed):
        erasure_jobs.erase_batch(*[r.id for r in requests])

    db.session.expire_all()
    for (client, strings), privacy_request in zip(subjects, requests):
        assert db.session.get(PrivacyRequest, privacy_request.id).status == APPROVED
        assert db.session.get(JobRecord, privacy_request.job_id).status == RETRYING
        assert text_hits(strings[0])  # the first subject's erasure went back with the batch


def test_a_subject_that_meets_a_lock_timeout_is_queued_again_alone(app, manager, monkeypatch):
    worker = RecordingWorker()
    app.extensions["embedded_worker"] = worker
    subjects = [seeded_client(f"lk{n}", 345 + n) for n in range(3)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    locked = requests[1]
    _raise_for(monkeypatch, locked.id,
               OperationalError("SELECT ... FOR UPDATE", {}, Exception("canceling statement due to lock timeout")))
    outcome = erasure_batches.erase_batch([r.id for r in requests], batch_job_id=_batch(requests))

    assert outcome["requeued"] == [locked.id] and len(outcome["completed"]) == 2
    db.session.expire_all()
    again = db.session.get(PrivacyRequest, locked.id)
    assert again.status == APPROVED and text_hits(subjects[1][1][0])
    assert db.session.get(JobRecord, f"batch-1-{locked.id}").status == LOST
    assert worker.calls == [(jobqueue.JOB_FOR_TYPE[ERASURE], (locked.id,), again.job_id)]  # on its own


def test_members_are_marked_started_before_the_work_and_a_member_queued_again_is_left_alone(app, manager,
                                                                                             monkeypatch):
    subjects = [seeded_client(f"st{n}", 350 + n) for n in range(3)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    batch_id = _batch(requests)
    # Reconcile queued the third one again on its own (its batch looked lost): the batch must leave it to that job.
    db.session.get(JobRecord, f"{batch_id}-{requests[2].id}").status = LOST
    db.session.get(PrivacyRequest, requests[2].id).job_id = "its-own-job"
    db.session.commit()
    seen = []
    real_erase = erasure._erase

    def look_from_another_connection(privacy_request, client, *args):
        with db.engine.connect() as other:  # what reconcile (another process) would read now
            seen.append(other.execute(select(JobRecord.status).where(JobRecord.batch_job_id == batch_id)
                                      .order_by(JobRecord.request_id)).scalars().all())
        return real_erase(privacy_request, client, *args)

    monkeypatch.setattr(erasure, "_erase", look_from_another_connection)
    outcome = erasure_batches.erase_batch([r.id for r in requests], batch_job_id=batch_id)

    assert seen[0] == [STARTED, STARTED, LOST]
    assert outcome["completed"] == sorted(r.id for r in requests[:2]) and outcome["noop"] == [requests[2].id]
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, requests[2].id).status == APPROVED  # untouched, its own job's to do
    assert text_hits(subjects[2][1][0])


def test_a_failing_batch_check_falls_back_to_one_check_each_and_one_failing_leaves_the_others_checked(
        app, manager, monkeypatch):
    from backoffice.services import erasure_check

    subjects = [seeded_client(f"ck{n}", 360 + n) for n in range(3)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    real_verify, real_many = erasure_check.verify, erasure_check.verify_many
    timeout = OperationalError("SELECT ... LIKE", {}, Exception("canceling statement due to statement timeout"))

    def time_out_for_the_batch(subjects_, *args, **kwargs):
        if len(subjects_) > 1:
            real_many(subjects_, *args, **kwargs)  # its audit events and certificates go back with the savepoint
            raise timeout
        return real_many(subjects_, *args, **kwargs)

    def time_out_on_second(request_id, *args, **kwargs):
        result = real_verify(request_id, *args, **kwargs)
        if request_id == requests[1].id:
            raise timeout
        return result

    monkeypatch.setattr(erasure_check, "verify_many", time_out_for_the_batch)
    monkeypatch.setattr(erasure_check, "verify", time_out_on_second)
    outcome = erasure_batches.erase_batch([r.id for r in requests], batch_job_id=_batch(requests))

    assert len(outcome["completed"]) == 3
    db.session.expire_all()
    checked = {r.id: "verification" in db.session.get(PrivacyRequest, r.id).certificate for r in requests}
    assert checked == {requests[0].id: True, requests[1].id: False, requests[2].id: True}
    assert audit.verify().ok  # the failed check's audit event went back with its savepoint, the chain is whole


def test_bulk_approval_queues_its_erasures_in_batches_of_ids(app, client, make_staff, login_as):
    worker = RecordingWorker()
    app.extensions["embedded_worker"] = worker
    app.config["ERASURE_BATCH_SIZE"] = 2
    support, manager = make_staff("support"), login_as("manager")
    requests = [new_request(ERASURE, support, status=AWAITING_APPROVAL) for _ in range(3)]

    outcomes = bulk.decide_each(requests, "approve", manager, "identity checked")

    assert all(o.done and not o.reason for o in outcomes)
    assert [call[0] for call in worker.calls] == [jobqueue.ERASURE_BATCH_JOB] * 2
    assert [len(call[1]) for call in worker.calls] == [2, 1]
    assert sorted(i for call in worker.calls for i in call[1]) == sorted(r.id for r in requests)
    for func_path, ids, batch_id in worker.calls:
        assert all(isinstance(i, int) for i in ids)  # ids only in the queue
        records = db.session.execute(select(JobRecord).where(JobRecord.batch_job_id == batch_id)).scalars().all()
        assert sorted(r.request_id for r in records) == sorted(ids)
        for request_id in ids:
            assert jobqueue.queue_job_id(db.session.get(PrivacyRequest, request_id).job_id) == batch_id


def test_bulk_approval_whose_batch_cannot_be_queued_says_so_and_keeps_the_approval(app, make_staff, login_as):
    app.extensions.pop("embedded_worker", None)  # nothing to take the job: like Redis down
    support, manager = make_staff("support"), login_as("manager")
    requests = [new_request(ERASURE, support, status=AWAITING_APPROVAL) for _ in range(2)]

    outcomes = bulk.decide_each(requests, "approve", manager, "identity checked")

    assert all(o.done and "could not be queued" in o.reason for o in outcomes)
    db.session.expire_all()
    for privacy_request in requests:
        assert db.session.get(PrivacyRequest, privacy_request.id).status == APPROVED
        assert "queue could not be reached" in system_notes.render(db.session.get(JobRecord, privacy_request.job_id).error)
        assert db.session.execute(select(func.count()).select_from(RequestEvent).where(  # the timeline says so
            RequestEvent.request_id == privacy_request.id, RequestEvent.action == "job_not_queued")).scalar() == 1


def test_a_batch_out_of_time_goes_back_and_each_member_is_queued_alone(app, manager, monkeypatch):
    from rq.timeouts import JobTimeoutException

    worker = RecordingWorker()
    app.extensions["embedded_worker"] = worker
    subjects = [seeded_client(f"to{n}", 370 + n) for n in range(2)]
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    batch_id = _batch(requests)
    _raise_for(monkeypatch, requests[1].id, JobTimeoutException("Task exceeded maximum timeout value (600 seconds)"))
    with embedded_context(JobContext(batch_id, retries_left=2)), pytest.raises(JobFailed):
        erasure_jobs.erase_batch(*[r.id for r in requests])

    db.session.expire_all()
    for (client, strings), privacy_request in zip(subjects, requests):
        again = db.session.get(PrivacyRequest, privacy_request.id)
        assert again.status == APPROVED and text_hits(strings[0])  # nothing of the batch was committed
        assert db.session.get(JobRecord, f"{batch_id}-{privacy_request.id}").status == LOST
        assert (jobqueue.JOB_FOR_TYPE[ERASURE], (privacy_request.id,), again.job_id) in worker.calls


def test_the_batch_check_searches_once_and_gives_each_subject_only_its_own_residuals(app, manager):
    subjects = [seeded_client(f"own{n}", 380 + n) for n in range(3)]
    left_behind = subjects[1][0]
    # Someone's unmatched request naming the second client's e-mail: only that client's certificate may say so.
    db.session.add(PrivacyRequest(type="access", status="received", requester_email=left_behind.email,
                                  description="please send my data"))
    db.session.commit()
    requests = [approved_request(client, "erasure", by=manager) for client, _ in subjects]
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        outcome = erasure_batches.erase_batch([r.id for r in requests], batch_job_id=_batch(requests))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(outcome["completed"]) == 3
    db.session.expire_all()
    certificates = [db.session.get(PrivacyRequest, r.id).certificate for r in requests]
    assert [c["outcome"] for c in certificates] == ["complete", "residual", "complete"]
    assert certificates[1]["verification"]["residual_columns"] == ["privacy_request.requester_email"]
    assert [c["verification"]["residual_matches"] for c in certificates] == [0, 1, 0]
    # One search of each free-text table for the three subjects, not one each.
    table = re.compile(rf'FROM "?{Communication.__tablename__}"?\s', re.I)
    searches = [s for s in statements if re.search(r"\sI?LIKE\s", s) and table.search(s)]
    assert len(searches) == 1, searches
