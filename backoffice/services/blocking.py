"""Blocks end on their date (policy 5.2; Law No. 94-V art. 1(3)): a periodic pass lifts every expired block.

A block without an end date stays until an unblocking request completes. Each lifted block gets a timeline
event on the blocking request that set it and an audit event, both without personal data.
"""
import datetime as dt
import logging

from sqlalchemy import select

from ..extensions import db
from ..models.base import utcnow
from ..models.clients import ACTIVE, BLOCKED, Client
from ..models.requests import BLOCKING, COMPLETED, PrivacyRequest, RequestEvent
from . import audit
from .erasure import local_today

log = logging.getLogger("backoffice.jobs")
BLOCK_EXPIRED = "block_expired"


def lift_expired_blocks(today=None):
    """Unblock every client whose block ended before `today` (Almaty calendar); returns their ids."""
    today = today or local_today()
    clients = db.session.execute(
        select(Client).where(Client.status == BLOCKED, Client.blocked_until.is_not(None),
                             Client.blocked_until < today).order_by(Client.id).with_for_update(of=Client)
    ).scalars().all()
    lifted = []
    now = utcnow()
    for client in clients:
        until = client.blocked_until
        client.status = ACTIVE
        client.blocked_until = None
        blocking_request = db.session.execute(
            select(PrivacyRequest.id).where(PrivacyRequest.client_id == client.id, PrivacyRequest.type == BLOCKING,
                                            PrivacyRequest.status == COMPLETED)
            .order_by(PrivacyRequest.completed_at.desc(), PrivacyRequest.id.desc()).limit(1)).scalar()
        if blocking_request is not None:
            db.session.add(RequestEvent(request_id=blocking_request, at=now, actor_id=None, action=BLOCK_EXPIRED,
                                        from_status=COMPLETED, to_status=COMPLETED,
                                        comment=f"block ended on {until.isoformat()}; client unblocked"))
        audit.record("client.block_lifted", object_type="client", object_id=client.id, request_id=blocking_request,
                     details={"reason": BLOCK_EXPIRED, "blocked_until": until.isoformat()})
        lifted.append(client.id)
    db.session.commit()
    if lifted:
        log.info("expired blocks lifted: %d client(s)", len(lifted))
    return lifted
