"""The audit log: one way to record an event, and the check that the chain is intact (policy 4.3)."""
import hashlib
import json

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, update

from ..extensions import db
from ..models.audit import GENESIS_HASH, AuditChainHead, AuditEvent
from ..models.base import utcnow
from .pseudonyms import keyed_hash

SYSTEM = "system"


def canonical(event):
    """The exact bytes an event's hash covers: every field but id and hash, in a fixed order."""
    content = {
        "at": event.at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_roles": event.actor_roles,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "request_id": event.request_id,
        "outcome": event.outcome,
        "ip": event.ip,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def event_hash(event):
    return hashlib.sha256(canonical(event)).hexdigest()


def _current_actor():
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.id, ",".join(sorted(current_user.role_set))
    return None, SYSTEM


def _lock_head(session):
    """Take the chain's write lock and return the head row (created on first use)."""
    # An UPDATE takes a row lock on PostgreSQL and the write lock on SQLite, held until commit.
    result = session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(count=AuditChainHead.count))
    if result.rowcount == 0:
        session.add(AuditChainHead(id=1, last_hash=GENESIS_HASH, count=0))
        session.flush()
    return session.get(AuditChainHead, 1, populate_existing=True)


def record(action, *, object_type=None, object_id=None, request_id=None, outcome="success", details=None,
           actor=None, ip=None, session=None):
    """Append one event to the chain in the caller's transaction (policy 4.3).

    `details` must hold ids, field names and counts only; `search_term` values are replaced by their keyed hash.
    `actor` is a StaffUser for actions outside a request (CLI, jobs); inside a request the signed-in user is used.
    """
    session = session or db.session
    details = dict(details or {})
    if "search_term" in details:
        details["search_term_hash"] = keyed_hash(str(details.pop("search_term")))
    if actor is not None:
        actor_id, actor_roles = actor.id, ",".join(sorted(actor.role_set))
    else:
        actor_id, actor_roles = _current_actor()
    if ip is None and has_request_context():
        ip = request.remote_addr

    head = _lock_head(session)
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor_id,
        actor_roles=actor_roles,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        request_id=request_id,
        outcome=outcome,
        ip=ip,
        details=json.dumps(details, sort_keys=True, ensure_ascii=True, default=str) if details else None,
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    head.last_hash = event.hash
    head.count = (head.count or 0) + 1
    session.flush()
    return event


def verify(session=None, batch_size=5000):
    """Walk the chain in id order; return (ok, checked_count, first_bad_event_id, reason)."""
    session = session or db.session
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size)
        ).scalars().all()
        if not rows:
            break
        for event in rows:
            if event.prev_hash != expected_prev:
                return False, checked, event.id, "broken_link"
            if event_hash(event) != event.hash:
                return False, checked, event.id, "content_changed"
            expected_prev = event.hash
            checked += 1
            last_id = event.id
    head = session.get(AuditChainHead, 1)
    if head is not None and head.last_hash != expected_prev:
        return False, checked, None, "missing_tail"
    return True, checked, None, None
