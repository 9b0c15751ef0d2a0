"""Staff steps on a privacy request: `take_step`, the one public entry point (policy 5.2–5.4, 3.2.2, 4.1).

`STAFF_STEPS` maps each step the transition table names to a function that checks the step's own fields and returns
what the step does (a `Plan`: its effect and timeline comment). `take_step` runs the plan through the lifecycle's
one `transition` in one transaction and, for the steps that hand the request to a job, queues the job after the
commit. System steps (begin_execution, the job's complete, fail) go through the same `transition` from
services/execution; intake's automatic opt-out completion from services/intake.
"""
from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l

from ..models.base import utcnow
from ..models.requests import CONSENT_WITHDRAWAL
from ..permissions import REQUESTS_HANDLE
from . import completion, deadlines, fanout, matching, propagation
from .lifecycle import (
    IDENTITY_METHODS, IllegalTransition, InvalidInput, enqueue_job, refuse_if_blocked, required_text, runs_job,
    transition, unit_of_work,
)


@dataclass(frozen=True)
class Plan:
    """What a step does once the table allows it: `effect(req)` inside the transaction, a timeline comment, and
    whether the request's job is queued after the commit."""
    effect: Callable | None = None
    comment: str | None = None
    queues_job: bool = False


def _comment(value):
    return (value or "").strip() or None


def verify_identity(step, req, by, method=None, note=None):
    """Record how, by whom and when the requester's identity was checked (nothing proceeds without it)."""
    if method not in IDENTITY_METHODS:
        message = _l("Choose how the identity was checked.")
        raise InvalidInput(message, {"method": message})
    if note and len(note) > 200:
        message = _l("At most %(n)s characters.", n=200)
        raise InvalidInput(message, {"note": message})

    def effect(r):
        r.identity_method = method
        r.identity_verified_by_id = by.id
        r.identity_verified_at = utcnow()
        return {"method": method}
    return Plan(effect, _comment(note))


def start(step, req, by):
    """Take the request into work; it is assigned to `by` if nobody has it yet."""
    def effect(r):
        if r.assigned_to_id is None:
            r.assigned_to_id = by.id
    return Plan(effect)


def submit_for_approval(step, req, by, comment=None):
    """Hand an erasure, consent withdrawal or blocking to a manager (four-eyes)."""
    refuse_if_blocked(req)
    return Plan(comment=_comment(comment))


def approve(step, req, by, comment=None):
    """A manager who did not create or handle the request approves it (four-eyes), with a comment.

    Consent withdrawal: the consents are withdrawn now (policy 5.3); erasure and consent withdrawal then queue
    the erasure job after the commit. Status stays `approved` until the job moves it.
    """
    comment = required_text(comment, "comment", _l("Approving needs a comment."))
    refuse_if_blocked(req)

    def effect(r):
        now = utcnow()
        r.approved_by_id = by.id
        r.approved_at = now
        r.due_at = deadlines.due_on_approval(r.type, now, r.due_at)
        if r.type == CONSENT_WITHDRAWAL:
            return {"consents_withdrawn": completion.withdraw_consents(r.client_id)}
        return None
    return Plan(effect, comment, queues_job=runs_job(req))


def release(step, req, by):
    """Access (policy 5.4): identity checked, no approval needed; queue the export job."""
    return Plan(queues_job=True)


def retry(step, req, by):
    """Queue a failed (or never queued) job again (managers: JOBS_RETRY)."""
    refuse_if_blocked(req)
    return Plan(queues_job=True)


def complete(step, req, by, outcome=None):
    """Complete the request and carry out what its type requires (services/completion)."""
    effect, outcome = completion.completion_effect(req, by, outcome)
    # Other systems taking part (rectification, blocking): their jobs are queued after the commit.
    return Plan(effect, outcome, queues_job=fanout.hands_over(req))


# Reject refuses the request (a reason told to the client, e.g. art. 25(2)(7) or art. 8(2)); cancel closes it
# without acting (the client withdrew it). Same step otherwise: (message when no reason, field the reason goes to).
CLOSING = {
    "reject": (_l("Rejecting needs a reason."), "rejection_reason"),
    "cancel": (_l("Cancelling needs a reason."), "outcome"),
}


def close(step, req, by, comment=None):
    """Reject or cancel the request, with a reason; it is closed without being carried out."""
    message, field = CLOSING[step]
    reason = required_text(comment, "comment", message)

    def effect(r):
        setattr(r, field, reason)
        r.completed_at = utcnow()
        propagation.forget_previous(r)  # a rectification's replaced identities are not kept once it is closed
    return Plan(effect, reason)


def extend_deadline(step, req, by, comment=None):
    """Move the due date once, by the type's extension period, with a reason (audited)."""
    reason = required_text(comment, "comment", _l("An extension needs a reason."))

    def effect(r):
        rule = deadlines.rule_for(r.type)
        old = r.due_at
        r.due_at = deadlines.extend(r.due_at, rule.extension_working_days)
        r.extended_at = utcnow()
        r.extension_reason = reason
        return {"old_due_at": old.isoformat(), "new_due_at": r.due_at.isoformat()}
    return Plan(effect, reason)


def _check_assignee(to):
    if to is None or not to.is_active or not to.has_role(*REQUESTS_HANDLE):
        message = _l("Choose an active colleague who handles requests.")
        raise InvalidInput(message, {"assignee": message})


def assign_to(step, req, by, to=None):
    """Give the request to handler `to`."""
    _check_assignee(to)

    def effect(r):
        before = r.assigned_to_id
        r.assigned_to_id = to.id
        return {"from_staff": before, "to_staff": to.id}
    return Plan(effect, str(to))


def merge_duplicate(step, req, by, into=None, comment=None):
    """Close the request as a duplicate of the open request `into` (same client, same type)."""
    return Plan(matching.merge_effect(req, into, by), comment)


def match_client(step, req, by, client=None):
    """Link an unmatched request to the client it concerns."""
    return Plan(matching.match_effect(req, client))


# Every staff step of the transition table (lifecycle.TRANSITIONS) and the function that plans it.
STAFF_STEPS = {
    "verify_identity": verify_identity,
    "start": start,
    "submit_for_approval": submit_for_approval,
    "approve": approve,
    "release": release,
    "retry": retry,
    "complete": complete,
    "reject": close,
    "cancel": close,
    "extend_deadline": extend_deadline,
    "assign": assign_to,
    "merge_duplicate": merge_duplicate,
    "match_client": match_client,
}


def take_step(req, step, by, *, expected_version=None, **fields):
    """Take staff step `step` on `req` as `by`, with the step's `fields`, in one transaction; returns `req`.

    Raises InvalidInput (bad fields), IllegalTransition (the table forbids it now), NotPermitted (role, four-eyes),
    StaleRequest (`expected_version` is not the request's version any more) — nothing is saved then — or
    JobNotQueued (saved, but its job could not be queued: "retry" queues it later).
    """
    planner = STAFF_STEPS.get(step)
    if planner is None:
        raise IllegalTransition(_l("That step is not possible for this request now."))
    plan = planner(step, req, by, **fields)
    with unit_of_work():
        transition(req, step, by, comment=plan.comment, expected_version=expected_version, effect=plan.effect)
    if plan.queues_job:
        enqueue_job(req, by)
    return req


def assign(reqs, to, by):
    """Assign one or several open requests to handler `to`, all or nothing (the list page's bulk action)."""
    reqs = list(reqs) if isinstance(reqs, (list, tuple, set)) else [reqs]
    _check_assignee(to)
    if not reqs:
        raise InvalidInput(_l("Select at least one request."))
    with unit_of_work():
        for req in reqs:
            plan = assign_to("assign", req, by, to=to)
            transition(req, "assign", by, comment=plan.comment, effect=plan.effect)
    return reqs
