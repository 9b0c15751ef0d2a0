"""Blocks end on their date (policy 5.2; Law No. 94-V art. 1(3)): a periodic pass lifts every expired block.

A block without an end date stays until an unblocking request completes. Each lifted block gets a timeline
event on the blocking request that set it and an audit event, both without personal data. When other systems
of the data map take part in blocking, the lifting reaches them too: the pass opens an unblocking request for
the client (channel e-document, no staff), lifts the block here in its `block_ended` step and hands it over to
the other systems (services/fanout); that request completes once every one of them is done.
"""
import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from .. import system_notes
from ..extensions import db
from ..models.base import utcnow
from ..models.clients import BLOCKED, Client
from ..models.requests import BLOCKING, COMPLETED, RECEIVED, UNBLOCKING, PrivacyRequest, RequestEvent
from . import audit, completion, fanout, intake
from .erasure import local_today
from .lifecycle import transition, unit_of_work

log = logging.getLogger("backoffice.jobs")
BLOCK_EXPIRED = "block_expired"


def lift_expired_blocks(today=None):
    """Unblock every client whose block ended before `today` (Almaty calendar); returns their ids.

    A client whose block (or its lifting) is still being carried out in another system waits for the next pass.
    """
    today = today or local_today()
    still_running = exists().where(completion.block_change_executing(Client.id))
    client_ids = db.session.execute(
        select(Client.id).where(Client.status == BLOCKED, Client.blocked_until.is_not(None),
                                Client.blocked_until < today, ~still_running).order_by(Client.id)
    ).scalars().all()
    db.session.rollback()
    lifted = [client_id for client_id in client_ids if _lift(client_id, today)]
    if lifted:
        log.info("expired blocks lifted: %d client(s)", len(lifted))
    return lifted


def _lift(client_id, today):
    """One client's expired block, in its own transaction(s); False when someone lifted it meanwhile."""
    client = _locked_expired(client_id, today)
    if client is None:
        db.session.rollback()
        return False
    unblocking = None
    if fanout.other_systems_take_part(UNBLOCKING):
        db.session.rollback()
        unblocking = _unblocking_request(client_id)
        client = _locked_expired(client_id, today)
        if client is None:
            db.session.rollback()
            return False
    until = client.blocked_until
    with unit_of_work():
        if unblocking is None:
            completion.unblock(client)
        else:
            transition(unblocking, "block_ended", None,
                       effect=lambda r: fanout.hand_over(r, completion.unblock(client)))
        blocking_request = db.session.execute(
            select(PrivacyRequest.id).where(PrivacyRequest.client_id == client_id, PrivacyRequest.type == BLOCKING,
                                            PrivacyRequest.status == COMPLETED)
            .order_by(PrivacyRequest.completed_at.desc(), PrivacyRequest.id.desc()).limit(1)).scalar()
        if blocking_request is not None:
            db.session.add(RequestEvent(request_id=blocking_request, at=utcnow(), actor_id=None, action=BLOCK_EXPIRED,
                                        from_status=COMPLETED, to_status=COMPLETED,
                                        comment=system_notes.note(_l("The block ended on %(date)s; the client was "
                                                                     "unblocked."), date=until.isoformat())))
        audit.record("client.block_lifted", object_type="client", object_id=client_id, request_id=blocking_request,
                     details={"reason": BLOCK_EXPIRED, "blocked_until": until.isoformat(),
                              "unblocking_request_id": unblocking.id if unblocking is not None else None})
    if unblocking is not None:
        fanout.dispatch(unblocking.id)
    return True


def _locked_expired(client_id, today):
    return db.session.execute(
        select(Client).where(Client.id == client_id, Client.status == BLOCKED, Client.blocked_until.is_not(None),
                             Client.blocked_until < today).with_for_update(of=Client)
        .execution_options(populate_existing=True)).scalar_one_or_none()


def _unblocking_request(client_id):
    """The system's unblocking request for this client: one left open by an interrupted pass, or a new one."""
    left = db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.client_id == client_id, PrivacyRequest.type == UNBLOCKING,
                                     PrivacyRequest.status == RECEIVED, PrivacyRequest.created_by_id.is_(None))
        .order_by(PrivacyRequest.id.desc()).limit(1)).scalar_one_or_none()
    if left is not None:
        return left
    # No description: the timeline's translated step ("block ended") says why the system opened it.
    return intake.create_request(by=None, type=UNBLOCKING, channel="e_document",
                                 client=db.session.get(Client, client_id))
