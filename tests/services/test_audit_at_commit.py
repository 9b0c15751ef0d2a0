"""Audit events appended at commit (jobs): one head lock per transaction, rolled-back work takes its events along."""
from backoffice.extensions import db
from backoffice.models.audit import AuditChainHead, AuditEvent
from backoffice.services import audit


def _actions():
    return [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]


def test_events_join_the_chain_at_commit_in_order_and_the_chain_verifies(app):
    audit.record("before", object_type="x")
    db.session.commit()
    with audit.appended_at_commit():
        audit.record("job.one", object_type="x", details={"n": 1})
        audit.record("job.two", object_type="x", details={"n": 2})
        assert db.session.query(AuditEvent).count() == 1  # not yet: nothing holds the chain's lock
        db.session.commit()
    assert _actions() == ["before", "job.one", "job.two"]
    assert db.session.get(AuditChainHead, 1).count == 3
    assert audit.verify().ok


def test_a_rolled_back_transaction_or_savepoint_takes_its_events_along(app):
    with audit.appended_at_commit():
        audit.record("lost", object_type="x")
        db.session.rollback()
        audit.record("kept.outer", object_type="x")
        savepoint = db.session.begin_nested()
        audit.record("lost.in.savepoint", object_type="x")
        savepoint.rollback()
        with db.session.begin_nested():
            audit.record("kept.in.savepoint", object_type="x")
        db.session.commit()
    assert _actions() == ["kept.outer", "kept.in.savepoint"]
    assert audit.verify().ok


def test_outside_the_block_events_are_appended_at_once(app):
    with audit.appended_at_commit():
        pass
    audit.record("now", object_type="x")
    assert db.session.query(AuditEvent).count() == 1
    db.session.rollback()
