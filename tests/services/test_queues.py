"""The home page's queues (services/queues)."""
import datetime as dt


from backoffice.models.requests import ACCESS, COMPLETED, ERASURE, IN_PROGRESS
from backoffice.services import queues
from backoffice.services.steps import take_step
from tests.services.requestkit import new_request


def test_home_page_queues(app, team):
    from backoffice.models.base import utcnow

    now = utcnow()
    late = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now - dt.timedelta(hours=1))
    soon = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now + dt.timedelta(minutes=30))
    later = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now + dt.timedelta(days=30))
    new_request(ACCESS, team.support, status=COMPLETED, due_at=now - dt.timedelta(hours=1))
    assert queues.overdue(now) == [late]
    assert queues.due_soon(now) == [soon]
    assert later not in queues.due_soon(now)


def test_awaiting_my_approval_excludes_my_own(app, team):
    req = new_request(ERASURE, team.manager)
    take_step(req, "verify_identity", team.support, method="registered_email")
    take_step(req, "submit_for_approval", team.support)
    assert queues.awaiting_approval_by(team.manager) == []
    assert queues.awaiting_approval_by(team.manager2) == [req]
    assert queues.awaiting_approval_by(team.support) == []
