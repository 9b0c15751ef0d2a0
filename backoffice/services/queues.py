"""The home page's queues and counters, and the request list's tabs (issue 3, issue 14).

Every counter on the home page is the size of one tab of the request list (`TABS`): the link under a counter opens
exactly the requests it counted. Conditions are plain SQL over indexed columns; "awaiting my approval" applies the
four-eyes rule in SQL (not created, assigned, verified or touched by me) so it can be counted without loading rows.
"""
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models.base import utcnow
from ..models.jobs import FAILED as JOB_FAILED
from ..models.jobs import JobRecord
from ..models.requests import AWAITING_APPROVAL, CLOSED_STATUSES, OPEN_STATUSES, PrivacyRequest, RequestEvent
from ..models.staff import StaffUser
from ..permissions import APPROVE, JOBS_READ, REQUESTS_HANDLE, REQUESTS_READ
from . import audit, deadlines

# The request list's quick tabs, in the order the list shows them, then the home page's extra counters.
TABS = ("open", "mine", "overdue", "approval", "done")
COUNTER_TABS = ("overdue", "due_today", "due_week", "approval", "unassigned")
ALL_TABS = frozenset(TABS + COUNTER_TABS)
HOME_LIMIT = 100
# Mail intake (issue 12) registers a callable here: () -> number of messages waiting for triage, and its URL.
TRIAGE_COUNTERS = []


def _is_open():
    return PrivacyRequest.status.in_(OPEN_STATUSES)


def _not_mine(column, user_id):
    return or_(column.is_(None), column != user_id)


def may_approve_condition(user):
    """Four-eyes in SQL: `user` neither created, was assigned, verified identity nor took any step."""
    touched = exists().where(RequestEvent.request_id == PrivacyRequest.id, RequestEvent.actor_id == user.id)
    return and_(_not_mine(PrivacyRequest.created_by_id, user.id), _not_mine(PrivacyRequest.assigned_to_id, user.id),
                _not_mine(PrivacyRequest.identity_verified_by_id, user.id), ~touched)


def tab_condition(tab, user, now=None):
    """The WHERE condition of a list tab / home counter, or None for an unknown tab."""
    now = now or utcnow()
    if tab == "open":
        return _is_open()
    if tab == "mine":
        return and_(_is_open(), PrivacyRequest.assigned_to_id == user.id)
    if tab == "overdue":
        return and_(_is_open(), PrivacyRequest.due_at < now)
    if tab == "due_today":
        return and_(_is_open(), PrivacyRequest.due_at >= now, PrivacyRequest.due_at <= deadlines.soon_cutoff(now, 0))
    if tab == "due_week":
        return and_(_is_open(), PrivacyRequest.due_at >= now, PrivacyRequest.due_at <= deadlines.soon_cutoff(now, 5))
    if tab == "approval":
        mine_to_decide = may_approve_condition(user) if user.has_role(*APPROVE) else True
        return and_(PrivacyRequest.status == AWAITING_APPROVAL, mine_to_decide)
    if tab == "unassigned":
        return and_(_is_open(), PrivacyRequest.assigned_to_id.is_(None))
    if tab == "done":
        return PrivacyRequest.status.in_(CLOSED_STATUSES)
    return None


def counters(user, now=None):
    """[(key, count)] for the signed-in user's role, most urgent first; each key is a list tab (or 'failed_jobs')."""
    now = now or utcnow()
    result = []
    if user.has_role(*REQUESTS_READ):
        wanted = ["overdue", "due_today", "due_week"]
        if user.has_role(*APPROVE):
            wanted.append("approval")
        if user.has_role(*REQUESTS_HANDLE):
            wanted.append("unassigned")
        for tab in wanted:
            count = db.session.execute(
                select(func.count()).select_from(PrivacyRequest).where(tab_condition(tab, user, now))).scalar()
            result.append((tab, count))
    if user.has_role(*JOBS_READ):
        result.append(("failed_jobs", db.session.execute(
            select(func.count()).select_from(JobRecord).where(JobRecord.status == JOB_FAILED)).scalar()))
    for counter in TRIAGE_COUNTERS:
        entry = counter(user)
        if entry is not None:
            result.append(entry)
    return result


def home_rows(user, now=None, limit=HOME_LIMIT):
    """One row per request that needs the user today: mine, overdue, due this week, awaiting my approval.

    Overdue first, then by deadline; client and assignee loaded in the same query (no query per row).
    """
    now = now or utcnow()
    wanted = [tab_condition("mine", user, now), tab_condition("overdue", user, now),
              tab_condition("due_week", user, now)]
    if user.has_role(*APPROVE):
        wanted.append(tab_condition("approval", user, now))
    overdue_first = PrivacyRequest.due_at.is_(None) | (PrivacyRequest.due_at >= now)
    return db.session.execute(
        select(PrivacyRequest).where(or_(*wanted))
        .options(joinedload(PrivacyRequest.client), joinedload(PrivacyRequest.assigned_to))
        .order_by(overdue_first, PrivacyRequest.due_at.is_(None), PrivacyRequest.due_at, PrivacyRequest.id)
        .limit(limit)
    ).scalars().all()


def urgency(req, now=None):
    """'overdue' | 'due_soon' (within 1 working day) | '' for a request's row colour."""
    if not req.is_open or req.due_at is None:
        return ""
    now = now or utcnow()
    if req.due_at < now:
        return "overdue"
    return "due_soon" if req.due_at <= deadlines.soon_cutoff(now) else ""


def handler_choices():
    """Active staff who may be assigned requests."""
    users = db.session.execute(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.id)).scalars()
    return [u for u in users if u.has_role(*REQUESTS_HANDLE)]


def record_list_export(scope):
    """Audit a CSV download of the request list (ids, types, statuses and dates only) and commit it."""
    audit.record("requests.export_csv", object_type="privacy_request", details={"scope": scope})
    db.session.commit()
