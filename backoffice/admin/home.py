"""The home page: my queue, what is due within 1 working day, what is overdue, what awaits my approval."""
from flask_admin import expose
from flask_login import current_user

from ..permissions import APPROVE, BREACHES_MANAGE, REQUESTS_READ, has_any
from ..services import breaches, queues
from .base import ProtectedIndexView
from .requests import STATUS_LABELS, TYPE_LABELS, format_time_left


class HomeView(ProtectedIndexView):
    @expose("/")
    def index(self):
        handles = has_any(REQUESTS_READ)
        return self.render(
            "admin/home.html", handles=handles,
            breach_notices=breaches.notices_due() if has_any(BREACHES_MANAGE) else [],
            queue=queues.my_queue(current_user) if handles else [],
            due_soon=queues.due_soon() if handles else [],
            overdue=queues.overdue() if handles else [],
            approvals=queues.awaiting_approval_by(current_user) if has_any(APPROVE) else None,
            type_labels=TYPE_LABELS, status_labels=STATUS_LABELS, time_left=format_time_left)
