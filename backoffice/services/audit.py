"""The audit log: one way to record an event, and the check that the chain is intact (policy 4.3).

Chain format (version 1). Each event's ``hash`` is SHA-256 (hex) over its canonical form, the compact JSON array

    ["bekair-audit-v1", at, actor_id, actor_roles, action, object_type, object_id, request_id, outcome, ip,
     details, prev_hash]

with ``at`` as ISO 8601 UTC with microseconds (``2026-11-25T12:44:47.123456``), ids as JSON numbers, every other
field as the stored string or ``null``, ASCII only (``ensure_ascii``), separators ``,`` and ``:``. ``prev_hash`` is
the previous event's hash, or 64 zeros for the first event. The database id is not covered: the order of the chain
is the order of ``prev_hash`` links, and ids only make it cheap to walk.
"""
import datetime as dt
import decimal
import hashlib
import json
import re
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session

from ..extensions import db
from ..models.audit import GENESIS_HASH, AuditChainHead, AuditEvent
from ..models.base import utcnow
from . import csvstream
from .transaction import user_action
from .pseudonyms import keyed_hash

SYSTEM = "system"        # CLI, jobs: no request
ANONYMOUS = "anonymous"  # a request without a signed-in user (e.g. a failed sign-in)
CANONICAL_TAG = "bekair-audit-v1"
OUTCOMES = ("success", "failure", "denied")

_head = AuditChainHead.__table__
_event = AuditEvent.__table__

# A guard rail, not a proof: values that look like an e-mail address, or a bare run of 10-15 digits (IIN, phone),
# never belong in an append-only log that erasure cannot reach.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_DIGITS_RE = re.compile(r"(?<![\w+-])\+?\d{10,15}(?![\w-])")  # not inside UUIDs or other ids
_PLAIN_TYPES = (bool, int, float, decimal.Decimal, dt.date, dt.time, uuid.UUID)


class AuditDetailsError(ValueError):
    """Audit details must carry ids, field names and counts only (a programming error, never user input)."""


_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def _dumps(value):
    return _encoder.encode(value)


def canonical_values(at, actor_id, actor_roles, action, object_type, object_id, request_id, outcome, ip, details,
                     prev_hash):
    """The exact bytes an event's hash covers (see the module docstring for the format)."""
    return _dumps([CANONICAL_TAG, at.isoformat(timespec="microseconds"), actor_id, actor_roles, action, object_type,
                   object_id, request_id, outcome, ip, details, prev_hash]).encode("ascii")


def canonical(event):
    return canonical_values(event.at, event.actor_id, event.actor_roles, event.action, event.object_type,
                            event.object_id, event.request_id, event.outcome, event.ip, event.details,
                            event.prev_hash)


def event_hash(event):
    return hashlib.sha256(canonical(event)).hexdigest()


def _check_no_personal_data(value, path="details"):
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditDetailsError(f"{path}: keys must be strings")
            _check_no_personal_data(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_no_personal_data(item, path)
    elif isinstance(value, str):
        if _EMAIL_RE.search(value) or _DIGITS_RE.search(value):
            raise AuditDetailsError(f"{path} looks like personal data; store ids, field names or counts instead")
    elif value is not None and not isinstance(value, _PLAIN_TYPES):
        raise AuditDetailsError(f"{path}: only strings, numbers, dates, booleans, lists and dicts are allowed")


def _details_json(details):
    details = dict(details or {})
    if "search_term" in details:
        term = details.pop("search_term")
        details["search_term_hash"] = keyed_hash(str(term)) if term is not None else None
    if not details:
        return None
    _check_no_personal_data({k: v for k, v in details.items() if k != "search_term_hash"})
    return json.dumps(details, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=_json_default)


def _json_default(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _current_actor():
    if not has_request_context():
        return None, SYSTEM
    if getattr(current_user, "is_authenticated", False):
        return current_user.id, ",".join(sorted(current_user.role_set))
    return None, ANONYMOUS


def _insert_genesis_head(session):
    dialect = session.get_bind().dialect.name
    values = {"id": 1, "last_hash": GENESIS_HASH, "count": 0}
    if dialect == "postgresql":
        statement = postgresql.insert(_head).values(**values).on_conflict_do_nothing(index_elements=["id"])
    elif dialect == "sqlite":
        statement = sqlite.insert(_head).values(**values).on_conflict_do_nothing(index_elements=["id"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        statement = insert(_head).values(**values)
    session.execute(statement)


def _lock_head(session):
    """Take the chain's write lock and return (last_hash, count), creating the genesis head on first use.

    The no-op UPDATE takes the head's row lock on PostgreSQL and the database write lock on SQLite; both are held
    until the caller's transaction ends, so concurrent writers queue here and the chain cannot fork.
    """
    lock = _head.update().where(_head.c.id == 1).values(count=_head.c.count).returning(_head.c.last_hash,
                                                                                        _head.c.count)
    row = session.execute(lock).first()
    if row is None:
        # ON CONFLICT DO NOTHING: two first writers racing both end up here; one inserts, both then lock.
        _insert_genesis_head(session)
        row = session.execute(lock).one()
    return row.last_hash, row.count


def record(action, *, object_type=None, object_id=None, request_id=None, outcome="success", details=None,
           actor=None, ip=None, session=None):
    """Append one event to the chain in the caller's transaction (policy 4.3).

    `details` must hold ids, field names and counts only (checked: e-mail-like values and bare digit runs are
    refused); a `search_term` is replaced by its keyed hash. `actor` is a StaffUser for actions outside a signed-in
    request (sign-in itself, CLI, jobs); otherwise the signed-in user is the actor ("anonymous" in a request without
    one, "system" outside requests).
    The actor's roles are copied as they are now, so later role changes do not rewrite history.
    The chain's lock is held until the caller commits: keep the transaction short after recording.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}; use one of {OUTCOMES}")
    session = session or db.session
    details_json = _details_json(details)
    if object_id is not None:
        _check_no_personal_data(str(object_id), "object_id")
    if actor is not None:
        actor_id, actor_roles = actor.id, ",".join(sorted(actor.role_set))
    else:
        actor_id, actor_roles = _current_actor()
    if ip is None and has_request_context():
        ip = request.remote_addr

    event = AuditEvent(
        actor_id=actor_id,
        actor_roles=actor_roles,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        request_id=request_id,
        outcome=outcome,
        ip=ip,
        details=details_json,
    )
    real = session() if isinstance(session, scoped_session) else session
    if real.info.get(_DEFER):
        # Appended by _append_deferred when the transaction commits (jobs: see appended_at_commit).
        transaction = real.get_nested_transaction() or real.get_transaction() or real.begin()
        real.info.setdefault(_PENDING, []).append((transaction, event))
        real.flush()  # as an immediate append would: callers may expire the session right after recording
        return event
    _append(session, [event])
    return event


def _append(session, events):
    """Link `events` onto the chain in order, under one take of the head's lock."""
    last_hash, count = _lock_head(session)
    for event in events:
        event.at = utcnow()  # taken under the lock, so time never runs backwards along the chain
        event.prev_hash = last_hash
        event.hash = last_hash = event_hash(event)
        count += 1
        session.add(event)
        session.flush()  # the event must exist before the head may point at it (the head moves one at a time)
        session.execute(_head.update().where(_head.c.id == 1).values(last_hash=last_hash, count=count))


# --- appending at commit ----------------------------------------------------------------------------------------
# The head's lock serialises every writer of the chain until its commit. A job that records events as it goes
# would hold it for its whole transaction (an erasure: ~10 statements and the commit's fsync), so workers running
# side by side would queue behind each other. Inside appended_at_commit() events wait in the session and are
# linked in one go right before the commit: the lock is held for a few statements, and a rolled-back transaction
# or savepoint takes its events with it.
_DEFER, _PENDING = "audit_append_at_commit", "audit_pending_events"


@contextmanager
def appended_at_commit(session=None):
    """Within the block, events recorded on `session` join the chain when it commits (not when recorded)."""
    session = session or db.session
    session = session() if isinstance(session, scoped_session) else session
    if session.info.get(_DEFER):
        yield  # nested (a job around a service that defers too): the outer block owns the mode
        return
    session.info[_DEFER] = True
    try:
        yield
    finally:
        session.info.pop(_DEFER, None)
        session.info.pop(_PENDING, None)


@sa_event.listens_for(Session, "before_commit")
def _append_deferred(session):
    if session.in_nested_transaction():
        return  # a savepoint is released: its events stay pending for the outer commit
    pending = session.info.pop(_PENDING, None)
    if pending:
        _append(session, [item for _transaction, item in pending])


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session, previous_transaction):
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(t, e) for t, e in pending if not _within(t, previous_transaction)]


def _within(transaction, ancestor):
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain. `position` is 1-based along the chain; `event_id` the database id."""

    ok: bool
    checked: int
    head_count: int
    event_id: int | None = None
    position: int | None = None
    reason: str | None = None

    REASONS = {
        "content_changed": "the event's stored hash does not match its content (the event was altered)",
        "missing_link": "the event does not follow the previous one (events before it were removed or altered)",
        "missing_tail": "the chain ends before the head (events at the end were removed)",
        "head_mismatch": "the head does not point at the last event of the chain",
    }

    @property
    def explanation(self):
        return self.REASONS.get(self.reason, "")

    def as_details(self):
        return {k: v for k, v in asdict(self).items() if v is not None}


# `at` is formatted by the database exactly as canonical_values() writes it, which spares a datetime per row.
_VERIFY_SQL = ("SELECT id, hash, {at}, actor_id, actor_roles, action, object_type, object_id, request_id, outcome, "
               "ip, details, prev_hash FROM audit_event ORDER BY id")
_CANONICAL_AT = {
    "postgresql": "to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
    # SQLAlchemy stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff" (always with microseconds).
    "sqlite": "substr(at, 1, 10) || 'T' || substr(at, 12)",
}


def _stream_rows(session, batch_size):
    """Yield batches of raw row tuples in id order, straight from the driver (no ORM, no Row objects).

    PostgreSQL gets a server-side (named) cursor, so memory stays flat; sqlite3 cursors stream by themselves.
    """
    connection = session.connection()
    dbapi_connection = connection.connection
    if connection.dialect.name == "postgresql":
        cursor = dbapi_connection.cursor(name=f"audit_verify_{uuid.uuid4().hex[:12]}")
        cursor.itersize = batch_size
    else:
        cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_VERIFY_SQL.format(at=_CANONICAL_AT[connection.dialect.name]))
        while True:
            rows = cursor.fetchmany(batch_size)
            if not rows:
                return
            yield rows
    finally:
        cursor.close()


def verify(session=None, batch_size=10000):
    """Walk the whole chain in id order and report the first broken or missing link (policy 4.3).

    The head is read first: events committed while the walk runs come after it and are checked too, so a busy
    system does not produce false alarms. Rows are streamed as plain driver tuples (measured in bench/).
    """
    session = session or db.session
    head = session.execute(select(_head.c.last_hash, _head.c.count).where(_head.c.id == 1)).first()
    head_hash, head_count = (head.last_hash, head.count) if head is not None else (GENESIS_HASH, 0)

    sha256, encode, tag = hashlib.sha256, _encoder.encode, CANONICAL_TAG
    expected_prev = GENESIS_HASH
    position = 0
    head_reached = head_count == 0
    for rows in _stream_rows(session, batch_size):
        for (event_id, stored_hash, at, actor_id, actor_roles, action, object_type, object_id, request_id,
             outcome, ip, details, prev_hash) in rows:
            position += 1
            content = encode([tag, at, actor_id, actor_roles, action, object_type, object_id, request_id,
                              outcome, ip, details, prev_hash])
            if sha256(content.encode("ascii")).hexdigest() != stored_hash:
                return Verification(False, position - 1, head_count, event_id, position, "content_changed")
            if prev_hash != expected_prev:
                return Verification(False, position - 1, head_count, event_id, position, "missing_link")
            expected_prev = stored_hash
            if position == head_count:
                if stored_hash != head_hash:
                    return Verification(False, position, head_count, event_id, position, "head_mismatch")
                head_reached = True
    if not head_reached:
        return Verification(False, position, head_count, None, position + 1, "missing_tail")
    return Verification(True, position, head_count)


def chain_length(session=None):
    """How many events the chain holds, from the head (exact and O(1), unlike COUNT(*) at millions of rows)."""
    session = session or db.session
    return session.execute(select(_head.c.count).where(_head.c.id == 1)).scalar() or 0


# --- streamed CSV export ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "at", "actor_id", "actor_roles", "action", "object_type", "object_id", "request_id",
               "outcome", "ip", "details", "prev_hash", "hash")
def csv_chunks(statement, session=None, batch_size=2000):
    """Yield the rows of `statement` (columns in CSV_COLUMNS order) as UTF-8 CSV, a batch at a time.

    Streams from a server-side cursor, so memory stays flat however many events match.
    """
    session = session or db.session
    result = session.connection().execute(
        statement, execution_options={"stream_results": True, "yield_per": batch_size})
    try:
        yield from csvstream.byte_chunks(CSV_COLUMNS, result, timespec="microseconds")
    finally:
        result.close()


@user_action
def verify_and_record(by=None):
    """Walk the chain (policy 4.3) and record that the check ran, with its result; committed here."""
    result = verify()
    record("audit.verify", object_type="audit_chain", outcome="success" if result.ok else "failure",
           details=result.as_details(), actor=by)
    return result


@user_action
def start_export(conditions, filters):
    """Record the copy of the log (policy 4.3: protection against copying), committed before the first byte is
    sent; returns the CSV chunks of the matching events. `filters` are the list's filter arguments: a value that
    looks like personal data is not copied into the log, only its filter name."""
    try:
        record("audit.export", object_type="audit_log", details={"filters": filters})
    except AuditDetailsError:
        record("audit.export", object_type="audit_log", details={"filters": sorted(filters)})
    return csv_chunks(export_statement(conditions))


def export_statement(where=()):
    """SELECT of the CSV columns, oldest first, with the given conditions."""
    columns = [getattr(_event.c, name) for name in CSV_COLUMNS]
    return select(*columns).where(*where).order_by(_event.c.id)
