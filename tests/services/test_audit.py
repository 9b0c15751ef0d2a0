"""The audit log is append-only and tamper-evident (policy 4.3)."""
import contextlib
import json
import threading

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from backoffice.extensions import db
from backoffice.models.audit import (GENESIS_HASH, POSTGRES_TRIGGERS, SQLITE_TRIGGERS, AuditChainHead, AuditEvent,
                                     AuditLogIsAppendOnly)
from backoffice.services import audit
from backoffice.services.pseudonyms import keyed_hash
from tests.conftest import _database_url, is_postgres, require_service


def _record_many(n, **fields):
    events = [audit.record(f"test.action{i}", object_type="thing", object_id=i, **fields) for i in range(n)]
    db.session.commit()
    return events


@contextlib.contextmanager
def append_only_triggers_dropped():
    """Simulate someone with DDL rights: drop the audit_event triggers, then put them back."""
    if is_postgres():
        db.session.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        restore = [POSTGRES_TRIGGERS[1]]
    else:
        db.session.execute(text("DROP TRIGGER audit_event_no_update"))
        db.session.execute(text("DROP TRIGGER audit_event_no_delete"))
        restore = SQLITE_TRIGGERS[:2]
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        for sql in restore:
            db.session.execute(text(sql))
        db.session.commit()


def test_record_stores_the_event_and_links_it_to_the_previous_one(app, make_staff):
    staff = make_staff("manager", "support")
    first = audit.record("client.read_full_record", object_type="client", object_id=42, request_id=7,
                         details={"purpose": "view"}, actor=staff, ip="10.0.0.5")
    second = audit.record("auth.login_failed", outcome="failure")
    db.session.commit()

    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert (first.actor_id, first.actor_roles, first.object_id, first.request_id, first.ip) == (
        staff.id, "manager,support", "42", 7, "10.0.0.5")
    assert json.loads(first.details) == {"purpose": "view"}
    assert (second.actor_id, second.actor_roles, second.outcome) == (None, "system", "failure")
    head = db.session.get(AuditChainHead, 1)
    assert (head.last_hash, head.count) == (second.hash, 2)
    assert audit.verify().ok


def test_roles_are_copied_at_the_time_of_the_event(app, make_staff):
    staff = make_staff("support")
    event = audit.record("x.y", actor=staff)
    db.session.commit()
    staff.role_set = {"admin"}
    db.session.commit()
    assert db.session.get(AuditEvent, event.id).actor_roles == "support"


def test_search_terms_are_stored_only_as_a_keyed_hash(app):
    event = audit.record("client.search", details={"search_term": "aigul@mail.kz", "results": 3})
    db.session.commit()
    assert "aigul" not in event.details
    assert json.loads(event.details) == {"results": 3, "search_term_hash": keyed_hash("aigul@mail.kz")}


@pytest.mark.parametrize("details", [
    {"email": "aigul@mail.kz"}, {"iin": "850101300123"}, {"phones": ["+77015551234"]},
    {"nested": {"to": "x@y.kz"}}, {"blob": object()},
])
def test_details_that_look_like_personal_data_are_refused(app, details):
    with pytest.raises(audit.AuditDetailsError):
        audit.record("x.y", details=details)
    db.session.rollback()
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 0


def test_details_with_ids_names_counts_and_times_are_accepted(app):
    import datetime as dt
    import uuid

    job_id = "5f0c2d9e-1a2b-4c3d-8e9f-123456789012"  # a UUID whose last group is all digits
    event = audit.record("x.y", object_id=job_id,
                         details={"fields": ["email", "phone"], "count": 3, "job_id": job_id,
                                  "at": "2026-11-25 12:00:00", "client_ids": [1, 2], "ok": True,
                                  "due": dt.date(2026, 12, 1), "uuid": uuid.UUID(int=7), "roles": {"b", "a"}})
    stored = json.loads(event.details)
    assert stored["fields"] == ["email", "phone"] and stored["due"] == "2026-12-01" and stored["roles"] == ["a", "b"]


def test_an_object_id_that_looks_like_personal_data_is_refused(app):
    with pytest.raises(audit.AuditDetailsError):
        audit.record("x.y", object_type="client", object_id="aigul@mail.kz")


def test_unknown_outcome_is_refused(app):
    with pytest.raises(ValueError):
        audit.record("x.y", outcome="maybe")


# --- append-only -----------------------------------------------------------------------------------------------

def test_the_orm_refuses_to_change_an_event(app):
    event = _record_many(1)[0]
    event.details = '{"forged":true}'
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert audit.verify().ok


def test_the_orm_refuses_to_delete_an_event(app):
    event = _record_many(1)[0]
    db.session.delete(event)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 1


@pytest.mark.parametrize("statement", [
    lambda: update(AuditEvent).values(outcome="failure"),
    lambda: AuditEvent.__table__.delete(),
    lambda: AuditEvent.__table__.update().values(ip=None),
])
def test_the_orm_refuses_bulk_statements(app, statement):
    _record_many(1)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.execute(statement())
    db.session.rollback()


@pytest.mark.parametrize("sql", [
    "UPDATE audit_event SET details = '{}'",
    "UPDATE audit_event SET outcome = 'failure' WHERE id = 1",
    "DELETE FROM audit_event",
    "DELETE FROM audit_event WHERE id = 1",
])
def test_the_database_refuses_raw_update_and_delete(app, sql):
    """Runs on SQLite and, with DATABASE_URL set, on PostgreSQL: the triggers, not the ORM, refuse."""
    _record_many(2)
    with db.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(sql))
            connection.commit()
    assert audit.verify().ok
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 2


@pytest.mark.parametrize("sql", [
    "UPDATE audit_chain_head SET last_hash = '{genesis}', count = 0",            # rewind
    "UPDATE audit_chain_head SET last_hash = '{forged}', count = count + 1",    # point at a made-up event
    "UPDATE audit_chain_head SET count = count + 5",                            # skip ahead
    "DELETE FROM audit_chain_head",
    "INSERT INTO audit_chain_head (id, last_hash, count) VALUES (2, '{genesis}', 0)",
])
def test_the_chain_head_only_moves_forward_one_event_at_a_time(app, sql):
    _record_many(3)
    with db.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="audit_chain_head"):
            connection.execute(text(sql.format(genesis=GENESIS_HASH, forged="f" * 64)))
            connection.commit()
    assert audit.verify().ok


# --- tamper evidence -------------------------------------------------------------------------------------------

def test_verify_reports_an_intact_chain(app):
    _record_many(7)
    result = audit.verify(batch_size=3)
    assert (result.ok, result.checked, result.head_count) == (True, 7, 7)


def test_verify_on_an_empty_log(app):
    assert audit.verify() == audit.Verification(True, 0, 0)


def test_altering_a_row_behind_the_triggers_is_caught_at_that_row(app):
    events = _record_many(6)
    target = events[3]
    with append_only_triggers_dropped():
        db.session.execute(text("UPDATE audit_event SET details = :d WHERE id = :id"),
                           {"d": '{"forged":true}', "id": target.id})
        db.session.commit()
    result = audit.verify(batch_size=2)
    assert not result.ok
    assert (result.event_id, result.position, result.reason, result.checked) == (target.id, 4, "content_changed", 3)


def test_rehashing_an_altered_row_is_caught_at_the_next_row(app):
    events = _record_many(5)
    target = events[1]
    forged = audit.canonical_values(target.at, target.actor_id, target.actor_roles, target.action,
                                    target.object_type, target.object_id, target.request_id, target.outcome,
                                    target.ip, '{"forged":true}', target.prev_hash)
    import hashlib
    with append_only_triggers_dropped():
        db.session.execute(text("UPDATE audit_event SET details = :d, hash = :h WHERE id = :id"),
                           {"d": '{"forged":true}', "h": hashlib.sha256(forged).hexdigest(), "id": target.id})
        db.session.commit()
    result = audit.verify()
    assert (result.ok, result.event_id, result.position, result.reason) == (False, events[2].id, 3, "missing_link")


def test_deleting_a_middle_row_is_a_missing_link(app):
    events = _record_many(5)
    with append_only_triggers_dropped():
        db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": events[2].id})
        db.session.commit()
    result = audit.verify()
    assert (result.ok, result.event_id, result.position, result.reason) == (False, events[3].id, 3, "missing_link")


def test_deleting_the_last_rows_is_a_missing_tail(app):
    events = _record_many(5)
    with append_only_triggers_dropped():
        db.session.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": events[3].id})
        db.session.commit()
    result = audit.verify()
    assert (result.ok, result.checked, result.position, result.reason) == (False, 3, 4, "missing_tail")


def test_cli_audit_verify_exits_non_zero_and_names_the_position(app):
    events = _record_many(4)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit-verify"])
    assert ok.exit_code == 0 and "4 events verified" in ok.output
    with append_only_triggers_dropped():
        db.session.execute(text("UPDATE audit_event SET action = 'auth.logout' WHERE id = :id"),
                           {"id": events[1].id})
        db.session.commit()
    broken = runner.invoke(args=["audit-verify"])
    assert broken.exit_code == 1
    assert f"event id {events[1].id}, position 2: content_changed" in broken.output
    checks = db.session.execute(select(AuditEvent.outcome).where(AuditEvent.action == "audit.verify")
                                .order_by(AuditEvent.id)).scalars().all()
    assert checks == ["success", "failure"]


# --- concurrency -----------------------------------------------------------------------------------------------

def test_concurrent_writers_produce_one_unbroken_chain(app):
    """Threads with their own sessions and connections: PostgreSQL's row lock on the head (CI runs this against
    PostgreSQL), or SQLite's database write lock."""
    if is_postgres():
        require_service("PostgreSQL", _database_url(), 5432)
    writers, per_writer = (8, 25) if is_postgres() else (4, 10)
    barrier = threading.Barrier(writers)
    errors = []

    def writer(n):
        try:
            with app.app_context():
                barrier.wait()
                for i in range(per_writer):
                    audit.record("test.concurrent", object_type="writer", object_id=n, details={"i": i})
                    db.session.commit()
                db.session.remove()
        except Exception as error:  # reported below, with the thread's number
            errors.append((n, repr(error)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = audit.verify()
    assert (result.ok, result.checked, result.head_count) == (True, writers * per_writer, writers * per_writer)
    prev_hashes = db.session.execute(select(AuditEvent.prev_hash)).scalars().all()
    assert len(set(prev_hashes)) == len(prev_hashes)  # no fork: every event has its own predecessor


def test_first_writers_racing_for_the_genesis_head_do_not_fail(app):
    if not is_postgres():
        pytest.skip("the genesis race is tested against PostgreSQL (set DATABASE_URL)")
    writers = 6
    barrier = threading.Barrier(writers)
    errors = []

    def writer():
        try:
            with app.app_context():
                barrier.wait()
                audit.record("test.first")
                db.session.commit()
                db.session.remove()
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert audit.verify().checked == writers
