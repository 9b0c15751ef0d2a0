"""The home page's queues (services/queues)."""
import datetime as dt


from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.requests import ACCESS, COMPLETED, ERASURE, IN_PROGRESS, PrivacyRequest
from backoffice.services import queues
from backoffice.services.steps import take_step
from tests.services.requestkit import new_request


def in_tab(tab, user, now=None):
    """The requests a list tab / home counter selects (the condition production uses)."""
    return db.session.execute(select(PrivacyRequest).where(queues.tab_condition(tab, user, now))
                              .order_by(PrivacyRequest.id)).scalars().all()


def test_home_page_queues(app, team):
    from backoffice.models.base import utcnow

    now = utcnow()
    late = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now - dt.timedelta(hours=1))
    soon = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now + dt.timedelta(minutes=30))
    later = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now + dt.timedelta(days=30))
    new_request(ACCESS, team.support, status=COMPLETED, due_at=now - dt.timedelta(hours=1))
    assert in_tab("overdue", team.support, now) == [late]
    assert in_tab("due_week", team.support, now) == [soon]
    assert later not in in_tab("due_week", team.support, now)


def test_awaiting_my_approval_excludes_my_own(app, team):
    req = new_request(ERASURE, team.manager)
    take_step(req, "verify_identity", team.support, method="registered_email")
    take_step(req, "submit_for_approval", team.support)
    assert in_tab("approval", team.manager) == []
    assert in_tab("approval", team.manager2) == [req]
    assert "approval" not in dict(queues.counters(team.support))  # support decides nothing: no such counter
