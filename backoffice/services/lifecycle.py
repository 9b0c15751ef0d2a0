"""The privacy-request lifecycle (policy 5.2–5.4, 3.2.2, 4.1): one transition table and the one way a status changes.

Every step — a staff member's (services/steps.take_step), a job's (services/execution) or intake's — goes through
`transition`, which refuses a step the table does not allow for the request's type and status, checks who may take
it (handler, four-eyes approver, or the system), runs the step's effect, moves the status and writes a timeline
event and an audit event. The caller owns the transaction (`unit_of_work` for staff steps, the job's own for system
steps). Optimistic locking on `PrivacyRequest.version` makes the second of two simultaneous steps fail with
`StaleRequest` instead of silently overwriting the first.
"""
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from .. import labels
from ..extensions import db
from ..models.base import utcnow
from ..models.clients import BLOCKED
from ..models.requests import (
    APPROVED, AWAITING_APPROVAL, BLOCKING, CANCELLED, COMPLETED, CONSENT_WITHDRAWAL, ERASURE, EXECUTING,
    FAILED, IDENTITY_VERIFIED, IN_PROGRESS, MARKETING_OPT_OUT, OPEN_STATUSES, RECEIVED, REJECTED, UNBLOCKING,
    RequestEvent,
)
from ..models.systems import BACKOFFICE_FIRST
from ..permissions import APPROVE, JOBS_RETRY, REQUESTS_HANDLE
from . import audit, deadlines, fanout, jobqueue

logger = logging.getLogger("backoffice.requests")

# Erasure, consent withdrawal and blocking need a manager's approval (four-eyes, issue 3).
NEEDS_APPROVAL = frozenset({ERASURE, CONSENT_WITHDRAWAL, BLOCKING})

# How staff checked the requester is the client (Law art. 10(2)); never a copy of a document (Law 44-VIII).
IDENTITY_METHODS = labels.IDENTITY_METHODS

MAX_TEXT = 2000
STALE_MESSAGE = _l("Someone else changed this request a moment ago. Nothing was saved: "
                   "reload the request and try again.")


class WorkflowError(Exception):
    """A refused step; `message` is translatable, `field_errors` maps form fields to messages."""

    def __init__(self, message, field_errors=None):
        super().__init__(str(message))
        self.message = message
        self.field_errors = dict(field_errors or {})

    def __str__(self):
        return str(self.message)


class IllegalTransition(WorkflowError):
    """The transition table does not allow this step for the request's type and status."""


class NotPermitted(WorkflowError):
    """This staff member may not take this step (role, or the four-eyes rule)."""


class StaleRequest(WorkflowError):
    """Someone else changed the request between reading and writing it."""


class InvalidInput(WorkflowError):
    """Bad input: nothing was changed."""


class JobNotQueued(WorkflowError):
    """The step was saved but its job could not be queued."""


JOB_NOT_QUEUED = _l("The step was saved, but its job could not be queued. "
                    "Use “Queue the job again” on the request page.")


# --- the transition table -------------------------------------------------------------------------------------------

HANDLER = "handler"  # support or manager
APPROVER = "approver"  # a manager who neither created nor handled the request
SYSTEM = "system"  # jobs and the reconciler (by=None)
ANYONE = "anyone"  # a handler, or the system (an opt-out arriving without staff)
RETRIER = "retrier"  # a manager sends a failed job back to the queue (issue 2 matrix: JOBS_RETRY)


def needs_approval(req):
    return req.type in NEEDS_APPROVAL


def runs_job(req):
    return jobqueue.job_for(req.type) is not None


def _matched(req):
    return req.client_id is not None


def _not_opt_out(req):
    return req.type != MARKETING_OPT_OUT


def _to_approval(req):
    return needs_approval(req) and _matched(req)


def _release(req):
    # Access (5.4): no approval; "produce export" hands it to the export job.
    return runs_job(req) and not needs_approval(req) and _matched(req)


def _by_hand(req):
    # Completed by staff: types with neither approval nor job, and any unmatched request ("we hold no data").
    if req.type == MARKETING_OPT_OUT:
        return False
    return not _matched(req) or (not needs_approval(req) and not runs_job(req))


def _approved_by_hand(req):
    return needs_approval(req) and not runs_job(req)


def _hands_over(req):
    # Rectification, blocking, unblocking (5.2) applied here first while other systems take part: the request
    # waits (executing) until every one of them is done (services/fanout).
    return fanout.hands_over(req)


def _completes_after_systems(req):
    return req.type in BACKOFFICE_FIRST and _matched(req)


def _requeue(req):
    # Approved but its job is not waiting or running (never pushed, or lost by the queue): it may be queued again.
    return runs_job(req) and (req.status == FAILED or not jobqueue.job_is_live(req.job_id))


def _extendable(req):
    rule = deadlines.rule_for(req.type)
    return bool(req.due_at and req.extended_at is None and rule is not None and rule.extension_allowed
                and rule.extension_working_days > 0)


@dataclass(frozen=True)
class Step:
    action: str
    sources: frozenset
    target: str | None  # None: the status does not change
    who: str
    applies: Callable = lambda req: True


_BEFORE_APPROVAL = frozenset({RECEIVED, IDENTITY_VERIFIED, IN_PROGRESS})
_OPEN = frozenset(OPEN_STATUSES)

TRANSITIONS = (
    Step("verify_identity", frozenset({RECEIVED}), IDENTITY_VERIFIED, HANDLER, _not_opt_out),
    Step("start", frozenset({IDENTITY_VERIFIED}), IN_PROGRESS, HANDLER, _not_opt_out),
    Step("submit_for_approval", frozenset({IDENTITY_VERIFIED, IN_PROGRESS}), AWAITING_APPROVAL, HANDLER,
         _to_approval),
    Step("approve", frozenset({AWAITING_APPROVAL}), APPROVED, APPROVER, needs_approval),
    Step("release", frozenset({IDENTITY_VERIFIED, IN_PROGRESS}), APPROVED, HANDLER, _release),
    Step("begin_execution", frozenset({APPROVED}), EXECUTING, SYSTEM, runs_job),
    Step("complete", frozenset({RECEIVED}), COMPLETED, ANYONE, lambda req: req.type == MARKETING_OPT_OUT),
    # Rows for the same step are tried in order: completing here while other systems take part hands over.
    Step("complete", frozenset({IN_PROGRESS}), EXECUTING, HANDLER, lambda req: _by_hand(req) and _hands_over(req)),
    Step("complete", frozenset({APPROVED}), EXECUTING, HANDLER,
         lambda req: _approved_by_hand(req) and _hands_over(req)),
    Step("complete", frozenset({IN_PROGRESS}), COMPLETED, HANDLER, _by_hand),
    Step("complete", frozenset({APPROVED}), COMPLETED, HANDLER, _approved_by_hand),
    Step("complete", frozenset({EXECUTING}), COMPLETED, SYSTEM, lambda req: runs_job(req) or
         _completes_after_systems(req)),
    # A block that ended (services/blocking): the system opens an unblocking request and lifts it here first.
    Step("block_ended", frozenset({RECEIVED}), EXECUTING, SYSTEM,
         lambda req: req.type == UNBLOCKING and _hands_over(req)),
    Step("fail", frozenset({APPROVED, EXECUTING}), FAILED, SYSTEM, runs_job),
    Step("fail", frozenset({EXECUTING}), FAILED, SYSTEM, _completes_after_systems),
    Step("retry", frozenset({FAILED, APPROVED}), APPROVED, RETRIER, _requeue),
    Step("retry", frozenset({FAILED}), EXECUTING, RETRIER, _completes_after_systems),
    Step("reject", frozenset({RECEIVED, IDENTITY_VERIFIED, IN_PROGRESS, FAILED}), REJECTED, HANDLER),
    Step("reject", frozenset({AWAITING_APPROVAL}), REJECTED, APPROVER, needs_approval),
    Step("cancel", frozenset({RECEIVED, IDENTITY_VERIFIED, IN_PROGRESS, AWAITING_APPROVAL}), CANCELLED, HANDLER),
    Step("merge_duplicate", _BEFORE_APPROVAL, CANCELLED, HANDLER, _matched),
    Step("assign", _OPEN, None, HANDLER),
    Step("extend_deadline", _OPEN, None, HANDLER, _extendable),
    Step("match_client", _BEFORE_APPROVAL, None, HANDLER, lambda req: not _matched(req)),
)
ACTIONS = tuple(dict.fromkeys(step.action for step in TRANSITIONS))

ACTION_LABELS = labels.REQUEST_ACTIONS  # the steps' and timeline events' names (backoffice/labels.py)


def find_step(req, action):
    """The table row allowing `action` on `req` now, or None."""
    for step in TRANSITIONS:
        if step.action == action and req.status in step.sources and step.applies(req):
            return step
    return None


def handlers_of(req):
    """Ids of staff who created, were assigned, verified identity or took any step on the request."""
    ids = {req.created_by_id, req.assigned_to_id, req.identity_verified_by_id}
    ids.update(db.session.execute(
        select(RequestEvent.actor_id).where(RequestEvent.request_id == req.id, RequestEvent.actor_id.is_not(None))
    ).scalars())
    ids.discard(None)
    return ids


def may_take(step, req, by):
    """(allowed?, reason) for staff member `by` (None = the system) taking `step` on `req`."""
    if step.who == SYSTEM:
        return (by is None), _l("Only the job that carries out the request takes this step.")
    if by is None:
        return step.who == ANYONE, _l("This step needs a staff member.")
    if step.who == ANYONE:
        return by.has_role(*REQUESTS_HANDLE), _l("Your role cannot handle privacy requests.")
    if step.who == HANDLER:
        return by.has_role(*REQUESTS_HANDLE), _l("Your role cannot handle privacy requests.")
    if step.who == RETRIER:
        return by.has_role(*JOBS_RETRY), _l("Only a manager can queue a job again.")
    if not by.has_role(*APPROVE):
        return False, _l("Only a manager can decide on this request.")
    if by.id in handlers_of(req):
        return False, _l("Four-eyes rule: you created or handled this request, so another manager must decide.")
    return True, None


def legal_next_steps(req, by):
    """The actions `by` may take on `req` now, in table order: what the UI offers (and nothing else)."""
    result = []
    for action in ACTIONS:
        step = find_step(req, action)
        if step is None or not may_take(step, req, by)[0]:
            continue
        if action in ("submit_for_approval", "approve", "retry", "release") and erasure_blocked(req):
            continue
        result.append(action)
    return result


def erasure_blocked(req):
    """True when the request would erase a blocked client: blocking stops destruction too (Law art. 1(3))."""
    return req.type in (ERASURE, CONSENT_WITHDRAWAL) and req.client is not None and req.client.status == BLOCKED

def refuse_if_blocked(req):
    """IllegalTransition when the step would lead to erasing a blocked client (Law art. 1(3))."""
    if erasure_blocked(req):
        raise IllegalTransition(_l("The client is blocked: their data must not be destroyed until the block is "
                                   "lifted (Law art. 1(3)). Complete an unblocking request first."))


# --- the one way a status changes -----------------------------------------------------------------------------------

@contextmanager
def unit_of_work():
    """Commit what the block did, or roll all of it back; a concurrent change becomes StaleRequest."""
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise StaleRequest(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise


def require_step(req, action, by, expected_version=None):
    """The table's step for `action` on `req` if `by` (None = the system) may take it now; raises otherwise.

    The version the page was rendered with is checked first: when someone else changed the request meanwhile,
    the answer is "reload", not a confusing "not possible in this status".
    """
    if expected_version is not None and int(expected_version) != req.version:
        raise StaleRequest(STALE_MESSAGE)
    step = find_step(req, action)
    if step is None:
        raise IllegalTransition(_l("“%(action)s” is not possible for a %(type)s request that is %(status)s.",
                                   action=ACTION_LABELS.get(action, action), type=req.type, status=req.status))
    allowed, reason = may_take(step, req, by)
    if not allowed:
        raise NotPermitted(reason)
    return step


def record_step(req, action, by, from_status, to_status, comment=None, details=None):
    """A step's timeline event and its audit event (ids, statuses, field names; no personal data)."""
    db.session.add(RequestEvent(request_id=req.id, actor_id=by.id if by else None, action=action,
                                from_status=from_status, to_status=to_status, comment=comment))
    audit_details = {"type": req.type, "from": from_status, "to": to_status}
    audit_details.update(details or {})
    audit.record(f"request.{action}", object_type="privacy_request", object_id=req.id, request_id=req.id,
                 details=audit_details, actor=by)


def transition(req, action, by, *, comment=None, expected_version=None, effect=None, details=None):
    """THE status change: check the table and the actor, run `effect(req)`, move the status, write timeline + audit.

    `by` is a staff member, or None for the system (jobs, the reconciler, intake). Flushes but never commits: the
    caller's transaction holds the step together with its work.
    """
    step = require_step(req, action, by, expected_version)
    from_status = req.status
    extra = effect(req) if effect else None
    if step.target is not None:
        req.status = step.target
    req.updated_at = utcnow()
    db.session.flush()  # the versioned UPDATE first: a stale request fails here, before anything else is written
    merged = dict(details or {})
    merged.update(extra or {})
    record_step(req, action, by, from_status, req.status, comment, merged)
    return req


def required_text(value, field, message):
    """The stripped text, or InvalidInput on `field` when empty or longer than MAX_TEXT."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, {field: message})
    if len(value) > MAX_TEXT:
        message = _l("At most %(n)s characters.", n=MAX_TEXT)
        raise InvalidInput(message, {field: message})
    return value


def optional_text(value, field):
    """The stripped text or None; InvalidInput on `field` when longer than MAX_TEXT."""
    value = (value or "").strip() or None
    if value and len(value) > MAX_TEXT:
        message = _l("At most %(n)s characters.", n=MAX_TEXT)
        raise InvalidInput(message, {field: message})
    return value


def enqueue_job(req, by):
    """Queue the request's job after the step committed (jobs read committed state; ids only)."""
    try:
        # Every system of the data map gets its job (services.fanout); the back-office one runs last.
        queued = fanout.dispatch(req.id)
        return queued[-1] if queued else None
    except Exception as exc:  # Redis down or no worker: the request stays approved and can be queued again
        db.session.rollback()
        logger.warning("request %s: job not queued (%s)", req.id, type(exc).__name__)
        note_job_not_queued(req, by, type(exc).__name__)
        raise JobNotQueued(JOB_NOT_QUEUED) from exc


def note_job_not_queued(req, by, error_name):
    """The step was saved but its job not queued: the timeline says so (the request page offers to queue it)."""
    with unit_of_work():
        record_step(req, "job_not_queued", by, req.status, req.status, details={"error": error_name})
