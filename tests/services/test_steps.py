"""Staff steps through take_step (services/steps): four-eyes, reasons, queueing jobs, assignment, extensions."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from backoffice.admin.requests import STEP_FIELDS
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.deadlines import DeadlineRule
from backoffice.models.requests import (
    ACCESS, APPROVED, AWAITING_APPROVAL, BLOCKING, CONSENT_WITHDRAWAL, ERASURE, FAILED, RECEIVED, RECTIFICATION,
    REJECTED,
)
from backoffice.services import execution, intake, lifecycle, propagation, steps
from backoffice.services.steps import take_step
from tests.factories import make_client
from tests.services.requestkit import make_manager, new_request
from tests.services.test_queues import in_tab


@pytest.mark.parametrize("type_", [ERASURE, CONSENT_WITHDRAWAL, BLOCKING])
def test_four_eyes_the_creator_and_every_handler_cannot_approve(app, team, queue, type_):
    creator, verifier, assignee = team.manager, team.manager2, team.support2
    req = new_request(type_, creator)
    take_step(req, "verify_identity", verifier, method="phone_callback")
    # A third manager assigns it to a support colleague, who submits it.
    assigner = make_manager(app)
    steps.assign(req, assignee, assigner)
    take_step(req, "start", assignee)
    take_step(req, "submit_for_approval", assignee)
    for who in (creator, verifier, assigner):
        with pytest.raises(lifecycle.NotPermitted) as error:
            take_step(req, "approve", who, comment="ok")
        assert "Four-eyes" in str(error.value)
    with pytest.raises(lifecycle.NotPermitted):
        take_step(req, "approve", assignee, comment="ok")  # support may never approve
    with pytest.raises(lifecycle.NotPermitted):
        take_step(req, "reject", creator, comment="no")  # nor may a handler decide by rejecting
    outsider = make_manager(app)
    with pytest.raises(lifecycle.InvalidInput) as error:
        take_step(req, "approve", outsider, comment="   ")
    assert "comment" in error.value.field_errors
    assert req.status == AWAITING_APPROVAL
    take_step(req, "approve", outsider, comment="Verified, no retention applies")
    assert (req.status, req.approved_by_id) == (APPROVED, outsider.id)
    assert in_tab("approval", outsider) == []


def test_reject_needs_a_reason(app, team):
    req = new_request(ACCESS, team.support)
    with pytest.raises(lifecycle.InvalidInput):
        take_step(req, "reject", team.support, comment="")
    assert req.status == RECEIVED


def test_job_not_queued_leaves_the_request_approved_and_it_can_be_queued_again(app, team):
    # No REDIS_URL and no embedded worker: enqueue refuses.
    app.extensions.pop("embedded_worker", None)
    req = new_request(ACCESS, team.support)
    take_step(req, "verify_identity", team.support, method="document_seen")
    with pytest.raises(lifecycle.JobNotQueued):
        take_step(req, "release", team.support)
    db.session.refresh(req)
    # The job's record is written before the push, so reconcile can push it later; the request stays approved.
    assert req.status == APPROVED
    assert "retry" not in lifecycle.legal_next_steps(req, team.support)  # managers only (JOBS_RETRY)
    assert "retry" in lifecycle.legal_next_steps(req, team.manager)
    app.extensions["embedded_worker"] = worker = type("W", (), {"calls": [], "submit": lambda s, *a: s.calls.append(a)})()
    with pytest.raises(lifecycle.NotPermitted):
        take_step(req, "retry", team.support)
    take_step(req, "retry", team.manager)
    assert len(worker.calls) == 1 and req.job_id


def test_failed_job_can_be_retried(app, team, queue):
    req = new_request(ERASURE, team.support, status=APPROVED, job_id="old")
    # The job path: the worker claims and begins it, then its failure handler marks it failed.
    execution.mark_executing(execution.claim(req.id, (ERASURE,)), "old")
    db.session.commit()
    assert execution.mark_failed(req.id, "worker lost")
    assert req.status == FAILED
    take_step(req, "retry", team.manager)
    assert req.status == APPROVED and len(queue.calls) == 1


def test_bulk_assignment_is_all_or_nothing(app, team):
    open_one = new_request(ACCESS, team.support)
    closed = new_request(ACCESS, team.support, status=REJECTED)
    with pytest.raises(lifecycle.IllegalTransition):
        steps.assign([open_one, closed], team.support2, team.support)
    db.session.refresh(open_one)
    assert open_one.assigned_to_id is None
    with pytest.raises(lifecycle.InvalidInput):
        steps.assign([open_one], team.supervisor, team.support)
    steps.assign([open_one], team.support2, team.support)
    assert open_one.assigned_to_id == team.support2.id
    assert in_tab("mine", team.support2) == [open_one]


def test_extension_once_with_reason_where_the_rule_allows_it(app, team):
    req = intake.create_request(type=ACCESS, by=team.support, client=make_client(),
                             received_at=dt.datetime(2026, 11, 23, 5, 0))
    assert "extend_deadline" not in lifecycle.legal_next_steps(req, team.support)
    with pytest.raises(lifecycle.IllegalTransition):
        take_step(req, "extend_deadline", team.support, comment="Large archive")
    rule = db.session.execute(select(DeadlineRule).where(DeadlineRule.request_type == ACCESS)).scalar_one()
    rule.extension_allowed, rule.extension_working_days = True, 2
    db.session.commit()
    with pytest.raises(lifecycle.InvalidInput):
        take_step(req, "extend_deadline", team.support, comment=" ")
    old_due = req.due_at
    take_step(req, "extend_deadline", team.support, comment="Archive retrieval from off-site storage")
    assert req.due_at == dt.datetime(2026, 11, 30, 13, 0) and old_due == dt.datetime(2026, 11, 26, 13, 0)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "request.extend_deadline")).scalar_one()
    assert json.loads(event.details)["new_due_at"].startswith("2026-11-30")
    with pytest.raises(lifecycle.IllegalTransition):
        take_step(req, "extend_deadline", team.support, comment="Again")


def test_every_staff_step_of_the_table_has_one_planner_and_one_form():
    staff_steps = {step.action for step in lifecycle.TRANSITIONS if step.who != lifecycle.SYSTEM}
    assert set(steps.STAFF_STEPS) == staff_steps
    assert set(STEP_FIELDS) == staff_steps
    assert steps.STAFF_STEPS["reject"] is steps.STAFF_STEPS["cancel"]  # one function closes a request


def test_a_system_step_cannot_be_taken_as_a_staff_step(app, team):
    req = new_request(ERASURE, team.support, status=APPROVED)
    for step in ("begin_execution", "fail", "no_such_step"):
        with pytest.raises(lifecycle.IllegalTransition):
            take_step(req, step, team.manager)
    db.session.refresh(req)
    assert req.status == APPROVED


def test_a_closed_rectification_keeps_no_replaced_identities(app, team):
    """The old e-mail/phone/IIN a rectification keeps for the other systems is dropped when it is closed unfinished."""
    req = new_request(RECTIFICATION, team.support, status=FAILED)
    req.payload = {**(req.payload or {}), propagation.PREVIOUS: {"email": ["old.address@mail.kz"]}}
    db.session.commit()
    take_step(req, "reject", team.manager, comment="The systems could not be reached; the client was told.")
    db.session.refresh(req)
    assert req.status == REJECTED
    assert propagation.PREVIOUS not in (req.payload or {})
    assert "old.address@mail.kz" not in json.dumps(req.payload or {})
