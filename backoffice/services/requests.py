"""The privacy-request lifecycle (policy 5.2–5.4, 3.2.2, 4.1): one transition table, enforced whoever calls.

Every step — from a view, a job or the CLI — goes through `_transition`, which refuses a step the table does not
allow for the request's type and status, checks who may take it (handler, four-eyes approver, or the system),
writes a timeline event and an audit event, and commits. Optimistic locking on `PrivacyRequest.version` makes the
second of two simultaneous steps fail with `StaleRequest` instead of silently overwriting the first.
"""
import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from ..permissions import APPROVE, JOBS_RETRY, REQUESTS_HANDLE
from ..extensions import db
from ..identifiers import InvalidIdentifier, name_key, normalise_email, normalise_iin, normalise_phone
from ..models.base import utcnow
from ..models.clients import ACTIVE, BLOCKED, ERASED, LANGUAGES, Client
from ..models.consent import MARKETING, Consent
from ..models.disclosures import DisclosureGrant
from ..models.optouts import CHANNELS as OPT_OUT_CHANNELS
from ..models.optouts import MarketingOptOut
from ..models.records import Booking
from ..models.requests import (
    ACCESS, APPROVED, AWAITING_APPROVAL, BLOCKING, CANCELLED, CHANNELS, COMPLETED, CONSENT_WITHDRAWAL, ERASURE,
    EXECUTING, FAILED, IDENTITY_VERIFIED, IN_PROGRESS, MARKETING_OPT_OUT, OPEN_STATUSES, RECEIVED, RECTIFICATION,
    REJECTED, REQUEST_TYPES, THIRD_PARTY_GRANT, UNBLOCKING, PrivacyRequest, RequestEvent,
)
from ..models.staff import StaffUser
from . import audit, deadlines, fanout, jobqueue
from .clients import classify_term
from .pseudonyms import keyed_hash

logger = logging.getLogger("backoffice.requests")

# Erasure, consent withdrawal and blocking need a manager's approval (four-eyes, issue 3).
NEEDS_APPROVAL = frozenset({ERASURE, CONSENT_WITHDRAWAL, BLOCKING})

# How staff checked the requester is the client (Law art. 10(2)); never a copy of a document (Law 44-VIII).
IDENTITY_METHODS = {
    "registered_email": _l("Request came from the registered e-mail"),
    "document_seen": _l("Identity document seen (type and last 4 digits noted)"),
    "phone_callback": _l("Call-back to the registered phone"),
    "signed_letter": _l("Signed letter / e-document"),
}

# Fields a rectification may change (policy 5.2) and their length limits.
RECTIFIABLE_FIELDS = ("full_name", "email", "phone", "iin", "position", "date_of_birth", "preferred_language")
MAX_TEXT = 2000


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
    Step("complete", frozenset({IN_PROGRESS}), COMPLETED, HANDLER, _by_hand),
    Step("complete", frozenset({APPROVED}), COMPLETED, HANDLER, _approved_by_hand),
    Step("complete", frozenset({EXECUTING}), COMPLETED, SYSTEM, runs_job),
    Step("fail", frozenset({APPROVED, EXECUTING}), FAILED, SYSTEM, runs_job),
    Step("retry", frozenset({FAILED, APPROVED}), APPROVED, RETRIER, _requeue),
    Step("reject", frozenset({RECEIVED, IDENTITY_VERIFIED, IN_PROGRESS, FAILED}), REJECTED, HANDLER),
    Step("reject", frozenset({AWAITING_APPROVAL}), REJECTED, APPROVER, needs_approval),
    Step("cancel", frozenset({RECEIVED, IDENTITY_VERIFIED, IN_PROGRESS, AWAITING_APPROVAL}), CANCELLED, HANDLER),
    Step("merge_duplicate", _BEFORE_APPROVAL, CANCELLED, HANDLER, _matched),
    Step("assign", _OPEN, None, HANDLER),
    Step("extend_deadline", _OPEN, None, HANDLER, _extendable),
    Step("match_client", _BEFORE_APPROVAL, None, HANDLER, lambda req: not _matched(req)),
)
ACTIONS = tuple(dict.fromkeys(step.action for step in TRANSITIONS))

ACTION_LABELS = {
    "create": _l("Received"),
    "verify_identity": _l("Verify identity"),
    "start": _l("Start work"),
    "submit_for_approval": _l("Submit for approval"),
    "approve": _l("Approve"),
    "release": _l("Produce export"),
    "begin_execution": _l("Execution started"),
    "complete": _l("Complete"),
    "fail": _l("Failed"),
    "retry": _l("Queue the job again"),
    "reject": _l("Reject"),
    "cancel": _l("Cancel"),
    "merge_duplicate": _l("Merge into another request"),
    "assign": _l("Assign"),
    "extend_deadline": _l("Extend the deadline"),
    "match_client": _l("Link to a client"),
    "job_not_queued": _l("Job could not be queued"),
    "duplicate_merged": _l("Duplicate merged into this request"),
    # Names the job runner (services/execution.py, issue 4) writes on the timeline.
    "execution_started": _l("Execution started"),
    "execution_resumed": _l("Execution resumed"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
    "retried": _l("Queued again"),
}


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


# --- the one way a step happens -------------------------------------------------------------------------------------

@contextmanager
def _unit_of_work():
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise StaleRequest(_l("Someone else changed this request a moment ago. Nothing was saved: "
                              "reload the request and try again.")) from None
    except Exception:
        db.session.rollback()
        raise


def require_step(req, action, by, expected_version=None):
    """The table's step for `action` on `req` if `by` (None = the system) may take it now; raises otherwise.

    The version the page was rendered with is checked first: when someone else changed the request meanwhile,
    the answer is "reload", not a confusing "not possible in this status".
    """
    if expected_version is not None and int(expected_version) != req.version:
        raise StaleRequest(_l("Someone else changed this request a moment ago. Nothing was saved: "
                              "reload the request and try again."))
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


def _transition(req, action, by, *, comment=None, expected_version=None, effect=None, details=None):
    """Check the table and the actor, run `effect(req)`, move the status, write timeline + audit, commit."""
    with _unit_of_work():
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


def _required_text(value, field, message):
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, {field: message})
    if len(value) > MAX_TEXT:
        message = _l("At most %(n)s characters.", n=MAX_TEXT)
        raise InvalidInput(message, {field: message})
    return value


def _enqueue_job(req, by):
    """Queue the request's job after the step committed (jobs read committed state; ids only)."""
    try:
        # Every system of the data map gets its job (services.fanout); the back-office one runs last.
        queued = fanout.dispatch(req.id)
        return queued[-1] if queued else None
    except Exception as exc:  # Redis down or no worker: the request stays approved and can be queued again
        db.session.rollback()
        logger.warning("request %s: job not queued (%s)", req.id, type(exc).__name__)
        with _unit_of_work():
            record_step(req, "job_not_queued", by, req.status, req.status, details={"error": type(exc).__name__})
        raise JobNotQueued(_l("The step was saved, but its job could not be queued. "
                              "Use “Queue the job again” on the request page.")) from exc


# --- receiving a request --------------------------------------------------------------------------------------------

def _parse_date(value, field, errors):
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = _l("Enter a date as YYYY-MM-DD.")
        return None


def validate_changes(raw):
    """Clean a rectification's proposed field changes (policy 5.2): (changes, field errors). Empty values are skipped."""
    changes, errors = {}, {}
    for field in RECTIFIABLE_FIELDS:
        value = raw.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            if field == "full_name":
                value = " ".join(str(value).split())
                if len(value) > 200:
                    raise InvalidIdentifier(_l("At most %(n)s characters.", n=200))
            elif field == "position":
                value = str(value).strip()
                if len(value) > 120:
                    raise InvalidIdentifier(_l("At most %(n)s characters.", n=120))
            elif field == "email":
                value = normalise_email(value)
            elif field == "phone":
                value = normalise_phone(value)
            elif field == "iin":
                value = normalise_iin(value)
            elif field == "preferred_language":
                if value not in LANGUAGES:
                    raise InvalidIdentifier(_l("Choose kk, ru or en."))
            elif field == "date_of_birth":
                parsed = _parse_date(value, field, errors)
                if parsed is None:
                    continue
                if parsed > dt.date.today() or parsed.year < 1900:
                    raise InvalidIdentifier(_l("This date of birth is not possible."))
                value = parsed.isoformat()
        except InvalidIdentifier as exc:
            errors[field] = exc.args[0]
            continue
        changes[field] = value
    if not changes and not errors:
        errors["full_name"] = _l("Enter at least one new value.")
    return changes, errors


def _clean_payload(request_type, payload, errors, today):
    payload = dict(payload or {})
    if request_type == RECTIFICATION:
        changes, change_errors = validate_changes(payload.get("changes") or {})
        errors.update({f"new_{k}": v for k, v in change_errors.items()})
        return {"changes": changes}
    if request_type == BLOCKING:
        until = _parse_date(payload.get("blocked_until"), "blocked_until", errors)
        if until is not None and until <= today:
            errors["blocked_until"] = _l("The end of the block must be in the future.")
        return {"blocked_until": until.isoformat() if until else None}
    if request_type == THIRD_PARTY_GRANT:
        recipient = " ".join(str(payload.get("recipient") or "").split())
        scope = str(payload.get("scope") or "").strip()
        if not recipient:
            errors["recipient"] = _l("Name the person or organisation.")
        elif len(recipient) > 200:
            errors["recipient"] = _l("At most %(n)s characters.", n=200)
        if not scope:
            errors["scope"] = _l("Describe which data they may access.")
        elif len(scope) > MAX_TEXT:
            errors["scope"] = _l("At most %(n)s characters.", n=MAX_TEXT)
        expires = _parse_date(payload.get("expires_on"), "expires_on", errors)
        if expires is not None and expires <= today:
            errors["expires_on"] = _l("The expiry must be in the future.")
        return {"recipient": recipient, "scope": scope, "expires_on": expires.isoformat() if expires else None}
    if request_type == MARKETING_OPT_OUT:
        channel = payload.get("channel") or "all"
        if channel not in OPT_OUT_CHANNELS:
            errors["opt_out_channel"] = _l("Not a valid choice.")
        return {"channel": channel}
    return {}


def check_new_request(**fields):
    """Field errors `create_request` would refuse these fields with (for forms that show every error at once)."""
    try:
        _clean_new_request(**fields)
    except InvalidInput as error:
        return error.field_errors
    return {}


def _clean_new_request(*, type, channel="email", requester_name=None, requester_email=None, requester_phone=None,
                       identifier=None, description=None, payload=None, client=None, received_at=None):
    errors = {}
    now = utcnow()
    if type not in REQUEST_TYPES:
        errors["type"] = _l("Not a valid choice.")
    if channel not in CHANNELS:
        errors["channel"] = _l("Not a valid choice.")
    requester_name = " ".join((requester_name or "").split()) or None
    if requester_name and len(requester_name) > 200:
        errors["requester_name"] = _l("At most %(n)s characters.", n=200)
    email_norm = phone_norm = None
    if requester_email and requester_email.strip():
        try:
            email_norm = normalise_email(requester_email)
        except InvalidIdentifier as exc:
            errors["requester_email"] = exc.args[0]
    if requester_phone and requester_phone.strip():
        try:
            phone_norm = normalise_phone(requester_phone)
        except InvalidIdentifier as exc:
            errors["requester_phone"] = exc.args[0]
    identifier_kind = identifier_value = None
    if identifier and identifier.strip():
        identifier_kind, identifier_value = classify_term(identifier)
        if identifier_kind == "pnr_or_name":
            identifier_kind = "pnr"
        if identifier_kind not in ("iin", "pnr", "email", "phone"):
            errors["identifier"] = _l("Enter an IIN (12 digits with a valid control digit) or a 6-character PNR.")
    description = (description or "").strip() or None
    if description and len(description) > MAX_TEXT:
        errors["description"] = _l("At most %(n)s characters.", n=MAX_TEXT)
    if received_at is None:
        received_at = now
    elif received_at > now + dt.timedelta(minutes=5):
        errors["received_at"] = _l("The receipt time cannot be in the future.")
    clean = _clean_payload(type, payload, errors, deadlines.local_date(now)) if type in REQUEST_TYPES else {}
    if type == MARKETING_OPT_OUT and not (email_norm or phone_norm or (client and (client.email or client.phone))):
        errors["requester_email"] = _l("An opt-out needs the e-mail address or phone number to suppress.")
    if client is not None and client.status == ERASED:
        errors["client"] = _l("This client was erased.")
    if errors:
        raise InvalidInput(_l("Please correct the highlighted fields. Nothing was saved."), errors)
    if identifier_value:
        clean["identifier"] = {"kind": identifier_kind, "value": identifier_value}
    return dict(type=type, channel=channel, requester_name=requester_name, requester_email=email_norm,
                requester_phone=phone_norm, description=description, payload=clean or None, client=client,
                received_at=received_at)


def create_request(*, by, **fields):
    """Record a request as received, with its statutory due date (Law art. 24–25) and, if unambiguous, its client.

    A marketing opt-out is put on the suppression list at once and completed (policy 3.2.2: no approval,
    no identity check). Raises InvalidInput with field errors and saves nothing on bad input.
    Fields: type, channel, requester_name/_email/_phone, identifier (IIN or PNR), description, payload,
    client, received_at.
    """
    clean = _clean_new_request(**fields)
    type, channel, client, received_at = clean["type"], clean["channel"], clean["client"], clean["received_at"]
    with _unit_of_work():
        req = PrivacyRequest(type=type, channel=channel, status=RECEIVED, received_at=received_at,
                             requester_name=clean["requester_name"], requester_email=clean["requester_email"],
                             requester_phone=clean["requester_phone"], description=clean["description"],
                             payload=clean["payload"], created_by_id=by.id if by else None,
                             client_id=client.id if client is not None else None)
        req.due_at = deadlines.initial_due_at(type, received_at)
        db.session.add(req)
        db.session.flush()
        matched = "given" if client is not None else None
        if client is None:
            candidates = find_candidates(req)
            if len(candidates) == 1:
                req.client_id = candidates[0].id
                matched = "unique_match"
        record_step(req, "create", by, None, RECEIVED,
               details={"channel": channel, "client_id": req.client_id, "matched": matched})
    if type == MARKETING_OPT_OUT:
        _transition(req, "complete", by, effect=_record_opt_out(by),
                    comment=str(_l("Added to the marketing suppression list.")))
    return req


# --- matching and duplicates ----------------------------------------------------------------------------------------

def _candidate_conditions(req):
    conditions = []
    if req.requester_email:
        conditions.append(Client.email_norm == req.requester_email)
    if req.requester_phone:
        conditions.append(Client.phone_e164 == req.requester_phone)
    ident = (req.payload or {}).get("identifier") or {}
    kind, value = ident.get("kind"), ident.get("value")
    if kind == "iin":
        conditions.append(Client.iin == value)
    elif kind == "pnr":
        conditions.append(Client.id.in_(select(Booking.client_id).where(Booking.pnr == value)))
    elif kind == "email":
        conditions.append(Client.email_norm == value)
    elif kind == "phone":
        conditions.append(Client.phone_e164 == value)
    return conditions


def find_candidates(req, limit=10):
    """Clients matching the requester's e-mail, phone, IIN or PNR (indexed equality on normalised columns)."""
    conditions = _candidate_conditions(req)
    if not conditions:
        return []
    return db.session.execute(
        select(Client).where(or_(*conditions), Client.status != ERASED).order_by(Client.id).limit(limit)
    ).scalars().all()


def match_client(req, client, by, expected_version=None):
    """Link an unmatched request to the client it concerns."""
    if client is None or client.status == ERASED:
        message = _l("Choose an existing client that was not erased.")
        raise InvalidInput(message, {"client_id": message})

    def effect(r):
        r.client_id = client.id
        return {"client_id": client.id}
    return _transition(req, "match_client", by, expected_version=expected_version, effect=effect)


def find_duplicates(req):
    """Other open requests of the same type for the same client (flagged on the request page)."""
    if req.client_id is None:
        return []
    return db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.client_id == req.client_id, PrivacyRequest.type == req.type,
                                     PrivacyRequest.id != req.id, PrivacyRequest.status.in_(OPEN_STATUSES))
        .order_by(PrivacyRequest.id)
    ).scalars().all()


def merge_duplicate(req, into, by, comment=None, expected_version=None):
    """Close `req` as a duplicate of the open request `into` (same client, same type)."""
    if into is None or into.id == req.id or into.type != req.type or into.client_id != req.client_id \
            or not into.is_open or into.duplicate_of_id is not None:
        message = _l("Choose another open request of the same type for the same client.")
        raise InvalidInput(message, {"duplicate_of": message})

    def effect(r):
        r.duplicate_of_id = into.id
        r.outcome = f"merged into #{into.id}"
        db.session.add(RequestEvent(request_id=into.id, actor_id=by.id if by else None, action="duplicate_merged",
                                    from_status=into.status, to_status=into.status, comment=f"#{r.id}"))
        return {"into": into.id}
    return _transition(req, "merge_duplicate", by, comment=comment, expected_version=expected_version, effect=effect)


# --- handling -------------------------------------------------------------------------------------------------------

def verify_identity(req, method, by, note=None, expected_version=None):
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
    return _transition(req, "verify_identity", by, comment=(note or "").strip() or None,
                       expected_version=expected_version, effect=effect)


def start(req, by, expected_version=None):
    """Take the request into work; it is assigned to `by` if nobody has it yet."""
    def effect(r):
        if r.assigned_to_id is None:
            r.assigned_to_id = by.id
    return _transition(req, "start", by, expected_version=expected_version, effect=effect)


def submit_for_approval(req, by, comment=None, expected_version=None):
    """Hand an erasure, consent withdrawal or blocking to a manager (four-eyes)."""
    _refuse_if_blocked(req)
    return _transition(req, "submit_for_approval", by, comment=(comment or "").strip() or None,
                       expected_version=expected_version)


def _refuse_if_blocked(req):
    if erasure_blocked(req):
        raise IllegalTransition(_l("The client is blocked: their data must not be destroyed until the block is "
                                   "lifted (Law art. 1(3)). Complete an unblocking request first."))


def approve(req, by, comment, expected_version=None):
    """A manager who did not create or handle the request approves it (four-eyes), with a comment.

    Consent withdrawal: the consents are withdrawn now (policy 5.3); erasure and consent withdrawal then queue
    the erasure job after the commit. Status stays `approved` until the job moves it.
    """
    comment = _required_text(comment, "comment", _l("Approving needs a comment."))
    _refuse_if_blocked(req)

    def effect(r):
        now = utcnow()
        r.approved_by_id = by.id
        r.approved_at = now
        r.due_at = deadlines.due_on_approval(r.type, now, r.due_at)
        if r.type == CONSENT_WITHDRAWAL:
            return {"consents_withdrawn": _withdraw_consents(r.client_id, None)}
        return None
    _transition(req, "approve", by, comment=comment, expected_version=expected_version, effect=effect)
    if runs_job(req):
        _enqueue_job(req, by)
    return req


def release(req, by, expected_version=None):
    """Access (policy 5.4): identity checked, no approval needed; queue the export job."""
    _transition(req, "release", by, expected_version=expected_version)
    _enqueue_job(req, by)
    return req


def retry(req, by, expected_version=None):
    """Queue a failed (or never queued) job again."""
    _refuse_if_blocked(req)
    _transition(req, "retry", by, expected_version=expected_version)
    _enqueue_job(req, by)
    return req


def reject(req, by, reason, expected_version=None):
    """Refuse the request with a reason (told to the client, e.g. art. 25(2)(7) or art. 8(2))."""
    reason = _required_text(reason, "comment", _l("Rejecting needs a reason."))

    def effect(r):
        r.rejection_reason = reason
        r.completed_at = utcnow()
    return _transition(req, "reject", by, comment=reason, expected_version=expected_version, effect=effect)


def cancel(req, by, reason, expected_version=None):
    """Close the request without acting on it (the client withdrew it), with a reason."""
    reason = _required_text(reason, "comment", _l("Cancelling needs a reason."))

    def effect(r):
        r.outcome = reason
        r.completed_at = utcnow()
    return _transition(req, "cancel", by, comment=reason, expected_version=expected_version, effect=effect)


def assign(reqs, to, by):
    """Assign one or several open requests to a handler, all or nothing."""
    reqs = list(reqs) if isinstance(reqs, (list, tuple, set)) else [reqs]
    if to is None or not to.is_active or not to.has_role(*REQUESTS_HANDLE):
        message = _l("Choose an active colleague who handles requests.")
        raise InvalidInput(message, {"assignee": message})
    if not reqs:
        raise InvalidInput(_l("Select at least one request."))
    with _unit_of_work():
        for req in reqs:
            require_step(req, "assign", by, None)
        for req in reqs:
            before = req.assigned_to_id
            req.assigned_to_id = to.id
            req.updated_at = utcnow()
            db.session.flush()
            record_step(req, "assign", by, req.status, req.status, comment=str(to),
                   details={"from_staff": before, "to_staff": to.id})
    return reqs


def extend_deadline(req, by, reason, expected_version=None):
    """Move the due date once, by the type's extension period, with a reason (audited)."""
    reason = _required_text(reason, "comment", _l("An extension needs a reason."))

    def effect(r):
        rule = deadlines.rule_for(r.type)
        old = r.due_at
        r.due_at = deadlines.extend(r.due_at, rule.extension_working_days)
        r.extended_at = utcnow()
        r.extension_reason = reason
        return {"old_due_at": old.isoformat(), "new_due_at": r.due_at.isoformat()}
    return _transition(req, "extend_deadline", by, comment=reason, expected_version=expected_version, effect=effect)


def begin_execution(req, job_id=None):
    """The job took the request (approved → executing)."""
    def effect(r):
        if job_id:
            r.job_id = job_id
    return _transition(req, "begin_execution", None, effect=effect)


def fail(req, reason):
    """The job failed; the request can be queued again (`retry`). `reason` must not hold personal data."""
    return _transition(req, "fail", None, comment=(reason or "")[:500] or None)


# --- completing, per type -------------------------------------------------------------------------------------------

def complete(req, by=None, outcome=None, expected_version=None):
    """Complete the request and carry out what its type requires.

    - unmatched request: the "we hold no data about you" reply is recorded (`outcome` required);
    - rectification (5.2): proposed changes re-validated and applied; field names audited, never values;
    - blocking / unblocking (5.2): client status `blocked` (with optional end) / `active`;
    - third-party grant (4.1): a DisclosureGrant is recorded in the register;
    - access / erasure / consent withdrawal: the job completes it (by=None) once it has run.
    """
    outcome = (outcome or "").strip() or None
    if outcome and len(outcome) > MAX_TEXT:
        message = _l("At most %(n)s characters.", n=MAX_TEXT)
        raise InvalidInput(message, {"outcome": message})
    if req.client_id is None and req.type != MARKETING_OPT_OUT:
        outcome = _required_text(outcome, "outcome", _l("Record the reply sent to the requester."))

    def effect(r):
        result = None
        if r.client_id is not None and r.status != EXECUTING:
            client = db.session.get(Client, r.client_id)
            if client.status == ERASED:
                raise IllegalTransition(_l("This client was erased; close the request with a reason instead."))
            if r.type == RECTIFICATION:
                if client.status == BLOCKED:
                    raise IllegalTransition(_l("The client's data is blocked (Law art. 1(3)): it cannot be changed "
                                               "until the block is lifted or ends."))
                result = _apply_rectification(r, client)
            elif r.type == BLOCKING:
                until = (r.payload or {}).get("blocked_until")
                client.status = BLOCKED
                client.blocked_until = dt.date.fromisoformat(until) if until else None
                result = {"client_status": BLOCKED}
            elif r.type == UNBLOCKING:
                if client.status != BLOCKED:
                    raise IllegalTransition(_l("The client is not blocked."))
                client.status = ACTIVE
                client.blocked_until = None
                result = {"client_status": ACTIVE}
            elif r.type == THIRD_PARTY_GRANT:
                result = _record_grant(r, client, by)
        r.outcome = outcome or r.outcome
        r.completed_at = utcnow()
        return result
    return _transition(req, "complete", by, comment=outcome, expected_version=expected_version, effect=effect)


def _apply_rectification(req, client):
    changes, errors = validate_changes((req.payload or {}).get("changes") or {})
    if errors:
        raise InvalidInput(_l("The proposed changes are no longer valid; create a new request."),
                           {f"new_{k}": v for k, v in errors.items()})
    for field, value in changes.items():
        if field == "date_of_birth":
            value = dt.date.fromisoformat(value)
        setattr(client, field, value)
        if field == "full_name":
            client.name_key = name_key(value)
        elif field == "email":
            client.email_norm = value
        elif field == "phone":
            client.phone_e164 = value
    return {"fields": sorted(changes)}


def _record_grant(req, client, by):
    data = req.payload or {}
    if not data.get("recipient") or not data.get("scope"):
        raise InvalidInput(_l("The request names no recipient or scope."))
    grant = DisclosureGrant(client_id=client.id, request_id=req.id, recipient=data["recipient"], scope=data["scope"],
                            expires_on=dt.date.fromisoformat(data["expires_on"]) if data.get("expires_on") else None,
                            created_by_id=by.id if by else None)
    db.session.add(grant)
    db.session.flush()
    return {"disclosure_grant_id": grant.id}


def _withdraw_consents(client_id, purposes):
    query = select(Consent).where(Consent.client_id == client_id, Consent.withdrawn_at.is_(None))
    if purposes:
        query = query.where(Consent.purpose.in_(purposes))
    consents = db.session.execute(query).scalars().all()
    now = utcnow()
    for consent in consents:
        consent.withdrawn_at = now
        consent.withdrawn_source = "privacy_request"
    return len(consents)


def _record_opt_out(by):
    """Put the requester on the suppression list at once (policy 3.2.2), through the opt-out service."""
    def effect(r):
        from . import optouts

        client = db.session.get(Client, r.client_id) if r.client_id else None
        email = r.requester_email or (client.email_norm if client else None)
        phone = r.requester_phone or (client.phone_e164 if client else None)
        result = optouts.add_opt_out(email=email, phone=phone, channel=(r.payload or {}).get("channel") or "all",
                                     source="privacy_request", by=by, request_id=r.id)
        if client is not None and result.entry.client_id is None:
            result.entry.client_id = client.id
        r.completed_at = utcnow()
        db.session.flush()
        return {"opt_out_id": result.entry.id, "opt_out_created": result.created}
    return effect


# --- queues for the home page ---------------------------------------------------------------------------------------

def _open():
    return select(PrivacyRequest).where(PrivacyRequest.status.in_(OPEN_STATUSES))


def my_queue(user, limit=50):
    """Open requests assigned to `user`, the most urgent first."""
    return db.session.execute(
        select(PrivacyRequest)
        .where(PrivacyRequest.assigned_to_id == user.id, PrivacyRequest.status.in_(OPEN_STATUSES))
        .order_by(PrivacyRequest.due_at.is_(None), PrivacyRequest.due_at, PrivacyRequest.id)
        .limit(limit)
    ).scalars().all()


def due_soon(now=None, limit=50):
    """Open requests not yet overdue whose deadline ends within 1 working day."""
    now = now or utcnow()
    return db.session.execute(
        _open().where(PrivacyRequest.due_at >= now, PrivacyRequest.due_at <= deadlines.soon_cutoff(now))
        .order_by(PrivacyRequest.due_at, PrivacyRequest.id).limit(limit)
    ).scalars().all()


def overdue(now=None, limit=50):
    """Open requests past their statutory deadline."""
    now = now or utcnow()
    return db.session.execute(
        _open().where(PrivacyRequest.due_at < now).order_by(PrivacyRequest.due_at, PrivacyRequest.id).limit(limit)
    ).scalars().all()


def awaiting_approval_by(user, limit=50):
    """Requests waiting for a manager's decision that `user` may take (not their own: four-eyes)."""
    if not user.has_role(*APPROVE):
        return []
    waiting = db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.status == AWAITING_APPROVAL)
        .order_by(PrivacyRequest.due_at.is_(None), PrivacyRequest.due_at, PrivacyRequest.id).limit(limit * 4)
    ).scalars().all()
    return [req for req in waiting if user.id not in handlers_of(req)][:limit]


def handler_choices():
    """Active staff who may be assigned requests."""
    users = db.session.execute(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.id)).scalars()
    return [u for u in users if u.has_role(*REQUESTS_HANDLE)]
