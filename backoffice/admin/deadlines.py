"""Deadline rules per request type, edited by the admin (kz-law-notes.md: every period is configurable)."""
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from wtforms.validators import Length, NumberRange

from .. import labels
from ..permissions import DEADLINES_ADMIN
from ..models.deadlines import COUNTED_FROM
from ..services import audit, deadlines
from .base import RoleModelView

EDITABLE = ("working_days", "counted_from", "legal_reference", "extension_allowed", "extension_working_days")


class DeadlineRuleView(RoleModelView):
    """One row per request type; changes apply to requests received afterwards and are audited."""

    roles_read = DEADLINES_ADMIN
    roles_write = DEADLINES_ADMIN
    allow_edit = True

    column_list = ("request_type",) + EDITABLE + ("updated_at",)
    column_labels = {
        "request_type": _l("Request type"), "working_days": _l("Working days"), "counted_from": _l("Counted from"),
        "legal_reference": _l("Legal reference"), "extension_allowed": _l("Extension allowed"),
        "extension_working_days": _l("Extension (working days)"), "updated_at": _l("Updated"),
    }
    column_default_sort = ("id", False)
    form_columns = EDITABLE
    column_formatters = {
        "request_type": lambda v, c, m, n: labels.label(m.request_type, "request_type"),
        "counted_from": lambda v, c, m, n: labels.label(m.counted_from, "counted_from"),
        "legal_reference": lambda v, c, m, n: labels.legal_reference(m.legal_reference),
    }
    form_choices = {"counted_from": labels.choices("counted_from", COUNTED_FROM)}
    form_args = {
        "working_days": {"validators": [NumberRange(min=0, max=60)]},
        "extension_working_days": {"validators": [NumberRange(min=0, max=60)]},
        "legal_reference": {"validators": [Length(min=1, max=200)]},
    }

    @expose("/")
    def index_view(self):
        deadlines.prepare_rules()
        return super().index_view()

    def on_model_change(self, form, model, is_created):
        changed = sorted(name for name in EDITABLE if getattr(form, name).object_data != getattr(form, name).data)
        audit.record("deadline_rule.update", object_type="deadline_rule", object_id=model.id,
                     details={"request_type": model.request_type, "fields": changed})
