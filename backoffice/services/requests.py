"""The privacy-request lifecycle (policy 5.2–5.4, 3.2.2, 4.1)."""
from sqlalchemy import select

from ..extensions import db
from ..models.requests import OPEN_STATUSES, PrivacyRequest


def my_queue(user, limit=50):
    """Open requests assigned to `user`, the most urgent first."""
    return db.session.execute(
        select(PrivacyRequest)
        .where(PrivacyRequest.assigned_to_id == user.id, PrivacyRequest.status.in_(OPEN_STATUSES))
        .order_by(PrivacyRequest.due_at.is_(None), PrivacyRequest.due_at, PrivacyRequest.id)
        .limit(limit)
    ).scalars().all()
