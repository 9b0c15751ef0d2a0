"""Privacy requests: the queue staff work from (policy 5.2–5.4, 3.2.2, 4.1)."""
from flask_babel import lazy_gettext as _l

from ..auth.roles import REQUESTS_HANDLE, REQUESTS_READ
from ..models.requests import REQUEST_TYPES, STATUSES, PrivacyRequest
from .base import RoleModelView


class PrivacyRequestView(RoleModelView):
    roles_read = REQUESTS_READ
    roles_write = REQUESTS_HANDLE

    column_list = ("id", "type", "status", "received_at", "due_at", "client_id", "assigned_to")
    column_labels = {
        "id": _l("ID"), "type": _l("Type"), "status": _l("Status"), "received_at": _l("Received"),
        "due_at": _l("Due"), "client_id": _l("Client"), "assigned_to": _l("Assigned to"),
    }
    column_filters = ("type", "status", "received_at", "due_at")
    column_choices = {"type": [(t, t) for t in REQUEST_TYPES], "status": [(s, s) for s in STATUSES]}
    column_sortable_list = ("id", "received_at", "due_at", "status", "type")
    column_default_sort = ("id", True)
    column_select_related_list = (PrivacyRequest.assigned_to,)
