"""The audit log, read-only, for supervisors (policy 4.3)."""
from flask_babel import lazy_gettext as _l

from ..auth.roles import AUDIT_READ
from .base import RoleModelView


class AuditEventView(RoleModelView):
    roles_read = AUDIT_READ
    roles_write = frozenset()

    column_list = ("id", "at", "actor_id", "actor_roles", "action", "object_type", "object_id", "request_id",
                   "outcome", "ip")
    column_labels = {
        "id": _l("ID"), "at": _l("Time (UTC)"), "actor_id": _l("Actor"), "actor_roles": _l("Roles"),
        "action": _l("Action"), "object_type": _l("Object"), "object_id": _l("Object ID"),
        "request_id": _l("Request"), "outcome": _l("Outcome"), "ip": _l("IP address"),
    }
    column_filters = ("actor_id", "action", "object_type", "object_id", "request_id", "at", "outcome")
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "at")
