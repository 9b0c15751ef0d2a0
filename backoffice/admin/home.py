"""The home page runs the day: counters for the user's role (each a link to its list tab) and one table of the
requests that need them, overdue first (issue 14)."""
from flask import url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..permissions import BREACHES_MANAGE, REQUESTS_READ, has_any
from ..services import breaches, queues
from .base import ProtectedIndexView
from .requests import STATUS_LABELS, TYPE_LABELS

COUNTER_LABELS = {
    "overdue": _l("Overdue"), "due_today": _l("Due today"), "due_week": _l("Due this week"),
    "approval": _l("Awaiting my approval"), "unassigned": _l("Unassigned"), "failed_jobs": _l("Failed jobs"),
    "triage": _l("Mail to triage"),
}
COUNTER_STYLE = {"overdue": "danger", "due_today": "warning", "failed_jobs": "danger"}


def counter_url(key):
    if key == "failed_jobs":
        return url_for("jobs.index", status="failed")
    if key in queues.ALL_TABS:
        return url_for("requests.index_view", tab=key)
    return None


class HomeView(ProtectedIndexView):
    @expose("/")
    def index(self):
        user = current_user._get_current_object()
        handles = has_any(REQUESTS_READ)
        counters = [{"key": key, "count": count, "label": COUNTER_LABELS.get(key, key), "url": counter_url(key),
                     "style": COUNTER_STYLE.get(key, "secondary") if count else "light"}
                    for key, count in queues.counters(user)]
        return self.render(
            "admin/home.html", handles=handles, counters=counters,
            breach_notices=breaches.notices_due() if has_any(BREACHES_MANAGE) else [],
            rows=queues.home_rows(user) if handles else [], urgency=queues.urgency,
            type_labels=TYPE_LABELS, status_labels=STATUS_LABELS)
