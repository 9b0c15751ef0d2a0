"""The transition table (issue 3, services/lifecycle): every legal and illegal step for every type, concurrency."""
import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.requests import (
    ACCESS, APPROVED, AWAITING_APPROVAL, BLOCKING, CANCELLED, CONSENT_WITHDRAWAL, ERASURE, EXECUTING, FAILED,
    IDENTITY_VERIFIED, IN_PROGRESS, MARKETING_OPT_OUT, RECEIVED, RECTIFICATION, REQUEST_TYPES, STATUSES,
    THIRD_PARTY_GRANT, UNBLOCKING, PrivacyRequest, RequestEvent,
)
from backoffice.services import lifecycle
from backoffice.services.steps import take_step
from tests.services.requestkit import new_request, to_in_progress

# The lifecycle of issue 3, written out independently of the service's table:
# for each type, the status-changing steps that are legal from each status (client matched).
APPROVAL_JOB = {
    RECEIVED: {"verify_identity", "reject", "cancel"},
    IDENTITY_VERIFIED: {"start", "submit_for_approval", "reject", "cancel"},
    IN_PROGRESS: {"submit_for_approval", "reject", "cancel"},
    AWAITING_APPROVAL: {"approve", "reject", "cancel"},
    APPROVED: {"begin_execution", "fail", "retry"},
    EXECUTING: {"complete", "fail"},
    FAILED: {"retry", "reject"},
}
# Issue 11: a rectification, blocking or unblocking handed over to the other systems waits `executing`; the system
# completes it once every system is done (or fails it), and a manager's retry queues that completion again.
AFTER_SYSTEMS = {EXECUTING: {"complete", "fail"}, FAILED: {"retry", "reject"}}
BLOCKING_STEPS = {**APPROVAL_JOB, APPROVED: {"complete"}, **AFTER_SYSTEMS}
ACCESS_STEPS = {
    RECEIVED: {"verify_identity", "reject", "cancel"},
    IDENTITY_VERIFIED: {"start", "release", "reject", "cancel"},
    IN_PROGRESS: {"release", "reject", "cancel"},
    AWAITING_APPROVAL: {"cancel"},
    APPROVED: {"begin_execution", "fail", "retry"},
    EXECUTING: {"complete", "fail"},
    FAILED: {"retry", "reject"},
}
BY_HAND = {
    RECEIVED: {"verify_identity", "reject", "cancel"},
    IDENTITY_VERIFIED: {"start", "reject", "cancel"},
    IN_PROGRESS: {"complete", "reject", "cancel"},
    AWAITING_APPROVAL: {"cancel"},
    APPROVED: set(), EXECUTING: set(), FAILED: {"reject"},
}
OPT_OUT_STEPS = {
    RECEIVED: {"complete", "reject", "cancel"},
    IDENTITY_VERIFIED: {"reject", "cancel"}, IN_PROGRESS: {"reject", "cancel"}, AWAITING_APPROVAL: {"cancel"},
    APPROVED: set(), EXECUTING: set(), FAILED: {"reject"},
}
LEGAL = {
    ERASURE: APPROVAL_JOB, CONSENT_WITHDRAWAL: APPROVAL_JOB, BLOCKING: BLOCKING_STEPS, ACCESS: ACCESS_STEPS,
    RECTIFICATION: {**BY_HAND, **AFTER_SYSTEMS}, UNBLOCKING: {**BY_HAND, **AFTER_SYSTEMS}, THIRD_PARTY_GRANT: BY_HAND,
    MARKETING_OPT_OUT: OPT_OUT_STEPS,
}
STATUS_STEPS = ("verify_identity", "start", "submit_for_approval", "approve", "release", "begin_execution", "complete",
                "fail", "retry", "reject", "cancel")


def take(action, req, team):
    """Take `action` with the actor the table expects for it: a handler, another manager, or the system.

    System steps go through the lifecycle's one `transition` with by=None, exactly as services/execution does.
    """
    if action in ("begin_execution", "fail") or (action == "complete" and req.status == EXECUTING):
        with lifecycle.unit_of_work():
            return lifecycle.transition(req, action, None, comment="worker lost" if action == "fail" else "Done")
    by = {"approve": team.manager2, "retry": team.manager}.get(action, team.support)
    if action == "reject" and req.status == AWAITING_APPROVAL:
        by = team.manager2
    fields = {
        "verify_identity": {"method": "document_seen"},
        "approve": {"comment": "Checked: no retention obligation"},
        "reject": {"comment": "Identity could not be confirmed"},
        "cancel": {"comment": "Client withdrew the request"},
    }.get(action, {})
    return take_step(req, action, by, **fields)


@pytest.mark.parametrize("type_", REQUEST_TYPES)
def test_every_step_from_every_status_is_legal_exactly_as_the_lifecycle_says(app, team, queue, type_):
    for status in STATUSES:
        # A refused step changes nothing (asserted below), so the refusals from one status share one request;
        # every legal step gets a fresh one.
        unchanged = new_request(type_, team.support, status=status)
        for action in STATUS_STEPS:
            legal = action in LEGAL[type_].get(status, set())
            req = new_request(type_, team.support, status=status) if legal else unchanged
            where = f"{type_}: {action} from {status}"
            if legal:
                before = db.session.execute(
                    select(RequestEvent).where(RequestEvent.request_id == req.id)).scalars().all()
                take(action, req, team)
                events = db.session.execute(
                    select(RequestEvent).where(RequestEvent.request_id == req.id)).scalars().all()
                assert len(events) > len(before), where
                assert events[len(before)].action == action, where
                assert db.session.execute(select(AuditEvent).where(
                    AuditEvent.request_id == req.id, AuditEvent.action == f"request.{action}")).scalar(), where
            else:
                version = req.version
                with pytest.raises(lifecycle.IllegalTransition):
                    take(action, req, team)
                db.session.refresh(req)
                assert (req.status, req.version) == (status, version), where


def test_the_service_offers_exactly_the_legal_steps(app, team):
    req = new_request(ERASURE, team.support)
    assert lifecycle.legal_next_steps(req, team.support)[:3] == ["verify_identity", "reject", "cancel"]
    assert lifecycle.legal_next_steps(req, team.supervisor) == []
    assert lifecycle.legal_next_steps(req, team.admin) == []
    take_step(req, "verify_identity", team.support, method="registered_email")
    take_step(req, "submit_for_approval", team.support)
    assert "approve" not in lifecycle.legal_next_steps(req, team.support)
    assert "approve" in lifecycle.legal_next_steps(req, team.manager)
    assert "approve" not in lifecycle.legal_next_steps(req, team.supervisor)


def test_illegal_step_message_is_clear(app, team):
    req = new_request(RECTIFICATION, team.support)
    with pytest.raises(lifecycle.IllegalTransition) as error:
        take_step(req, "complete", team.support)
    assert "not possible" in str(error.value) and "received" in str(error.value)


def test_a_stale_version_from_the_page_is_refused(app, team):
    req = new_request(ACCESS, team.support)
    version = req.version
    take_step(req, "verify_identity", team.support, method="document_seen")
    with pytest.raises(lifecycle.StaleRequest):
        take_step(req, "reject", team.support, comment="duplicate", expected_version=version)
    assert req.status == IDENTITY_VERIFIED


def test_two_sessions_changing_the_same_request_only_one_wins(app, team):
    from sqlalchemy.orm import Session

    req = new_request(ERASURE, team.support)
    with Session(db.engine) as other:
        theirs = other.get(PrivacyRequest, req.id)
        mine = req
        take_step(mine, "verify_identity", team.support, method="document_seen")
        theirs.status = CANCELLED
        from sqlalchemy.orm.exc import StaleDataError
        with pytest.raises(StaleDataError):
            other.commit()
    db.session.refresh(req)
    assert req.status == IDENTITY_VERIFIED


def test_stale_update_inside_the_service_becomes_a_clear_error(app, team):
    from sqlalchemy import update

    req = new_request(ACCESS, team.support)
    # Another process moves the request on after this session read it.
    with db.engine.begin() as connection:
        connection.execute(update(PrivacyRequest.__table__).where(PrivacyRequest.__table__.c.id == req.id)
                           .values(version=req.version + 1, status=CANCELLED))
    with pytest.raises(lifecycle.StaleRequest) as error:
        take_step(req, "verify_identity", team.support, method="document_seen")
    assert "reload" in str(error.value)
    assert db.session.execute(select(RequestEvent).where(RequestEvent.action == "verify_identity")).first() is None
    assert db.session.get(PrivacyRequest, req.id).status == CANCELLED


def test_concurrent_approval_on_postgresql_one_wins(app, team, queue):
    """Two managers press Approve at the same moment in two sessions: one wins, the other gets StaleRequest."""
    import threading

    from tests.conftest import _database_url, is_postgres, require_service

    if not is_postgres():
        pytest.skip("row-level concurrency is tested against PostgreSQL (CI runs it)")
    require_service("PostgreSQL", _database_url(), 5432)
    req = new_request(ERASURE, team.support)
    to_in_progress(req, team.support)
    take_step(req, "submit_for_approval", team.support)
    request_id, manager_ids = req.id, (team.manager.id, team.manager2.id)
    db.session.remove()

    barrier = threading.Barrier(2)
    outcomes = {}

    def approve_as(manager_id):
        with app.app_context():
            from backoffice.models.staff import StaffUser

            mine = db.session.get(PrivacyRequest, request_id)
            me = db.session.get(StaffUser, manager_id)
            assert mine.status == AWAITING_APPROVAL
            seen_version = mine.version  # what each manager's page was rendered with
            db.session.commit()  # end the read transaction; both now hold the same version
            barrier.wait(timeout=30)
            try:
                take_step(mine, "approve", me, comment=f"approved by {manager_id}", expected_version=seen_version)
                outcomes[manager_id] = "approved"
            except lifecycle.StaleRequest:
                outcomes[manager_id] = "stale"
            except Exception as exc:  # reported in the assertion below rather than lost in the thread
                outcomes[manager_id] = repr(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve_as, args=(m,)) for m in manager_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["approved", "stale"], outcomes
    winner = [m for m, outcome in outcomes.items() if outcome == "approved"][0]
    final = db.session.get(PrivacyRequest, request_id)
    assert (final.status, final.approved_by_id) == (APPROVED, winner)
    approvals = db.session.execute(select(RequestEvent).where(RequestEvent.request_id == request_id,
                                                              RequestEvent.action == "approve")).scalars().all()
    assert len(approvals) == 1
    assert len(queue.calls) == 1
