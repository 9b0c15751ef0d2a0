"""A block ends on its date and forbids change while it lasts (Law No. 94-V art. 1(3); policy 5.2)."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import Client
from backoffice.models.requests import BLOCKING, IN_PROGRESS, RECTIFICATION, PrivacyRequest, RequestEvent
from backoffice.services import blocking, intake
from backoffice.services.lifecycle import IllegalTransition
from backoffice.services.steps import take_step
from tests.factories import make_client


def _blocked_client(team, until):
    client = make_client()
    req = intake.create_request(type=BLOCKING, by=team.support, client=client,
                                payload={"blocked_until": "2099-01-31"})
    take_step(req, "verify_identity", team.support, method="registered_email")
    take_step(req, "start", team.support)
    take_step(req, "submit_for_approval", team.support)
    take_step(req, "approve", team.manager, comment="Processing conditions were breached")
    take_step(req, "complete", team.support)
    client.blocked_until = until  # the block's end as it stands today
    db.session.commit()
    return client, req


def test_an_expired_block_is_lifted_with_a_timeline_event_and_audit(app, team):
    today = dt.date(2027, 3, 10)
    expired, blocking_request = _blocked_client(team, dt.date(2027, 3, 9))
    running, _ = _blocked_client(team, dt.date(2027, 3, 10))  # ends today: still blocked until tomorrow
    open_ended = make_client(status="blocked")

    assert blocking.lift_expired_blocks(today=today) == [expired.id]

    db.session.expire_all()
    assert (db.session.get(Client, expired.id).status, db.session.get(Client, expired.id).blocked_until) == (
        "active", None)
    assert db.session.get(Client, running.id).status == "blocked"
    assert db.session.get(Client, open_ended.id).status == "blocked"
    event = db.session.execute(select(RequestEvent).where(RequestEvent.request_id == blocking_request.id,
                                                          RequestEvent.action == "block_expired")).scalar_one()
    assert event.actor_id is None and "2027-03-09" in event.comment
    audit_event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "client.block_lifted")).scalar_one()
    assert audit_event.object_id == str(expired.id) and audit_event.request_id == blocking_request.id
    assert json.loads(audit_event.details)["reason"] == "block_expired"
    assert blocking.lift_expired_blocks(today=today) == []  # a second pass changes nothing


def test_the_periodic_job_lifts_expired_blocks(app, team):
    from backoffice.jobs import maintenance

    client, _ = _blocked_client(team, dt.date(2000, 1, 1))
    assert maintenance.lift_expired_blocks() == [client.id]


def test_a_blocked_client_cannot_be_rectified(app, team):
    client, _ = _blocked_client(team, dt.date(2099, 1, 31))
    req = intake.create_request(type=RECTIFICATION, by=team.support, client=client,
                                payload={"changes": {"full_name": "Другое Имя"}})
    take_step(req, "verify_identity", team.support, method="registered_email")
    take_step(req, "start", team.support)
    with pytest.raises(IllegalTransition) as refused:
        take_step(req, "complete", team.support)
    assert "1(3)" in str(refused.value)
    db.session.rollback()
    assert db.session.get(Client, client.id).full_name == "Сейтқали Жанар"
    assert db.session.get(PrivacyRequest, req.id).status == IN_PROGRESS
