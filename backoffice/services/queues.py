"""The home page's queues (issue 3): mine, due within 1 working day, overdue, awaiting my approval."""
from sqlalchemy import select

from ..extensions import db
from ..models.base import utcnow
from ..models.requests import AWAITING_APPROVAL, OPEN_STATUSES, PrivacyRequest
from ..models.staff import StaffUser
from ..permissions import APPROVE, REQUESTS_HANDLE
from . import audit, deadlines
from .lifecycle import handlers_of


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


def record_list_export(scope):
    """Audit a CSV download of the request list (ids, types, statuses and dates only) and commit it."""
    audit.record("requests.export_csv", object_type="privacy_request", details={"scope": scope})
    db.session.commit()
