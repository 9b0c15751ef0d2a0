"""The marketing suppression list (policy 3.2.2)."""
from flask_babel import lazy_gettext as _l

from ..auth.roles import OPTOUTS_READ, OPTOUTS_WRITE
from .base import RoleModelView


class MarketingOptOutView(RoleModelView):
    roles_read = OPTOUTS_READ
    roles_write = OPTOUTS_WRITE

    column_list = ("id", "email", "phone", "channel", "source", "created_at", "removed_at")
    column_labels = {
        "id": _l("ID"), "email": _l("E-mail"), "phone": _l("Phone"), "channel": _l("Channel"),
        "source": _l("Source"), "created_at": _l("Added"), "removed_at": _l("Removed"),
    }
    column_filters = ("channel", "source", "created_at")
    column_default_sort = ("id", True)
