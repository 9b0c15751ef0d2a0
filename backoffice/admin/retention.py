"""Retention: the rules with their legal reference (admin edits), the run reports and dormant accounts
(managers and supervisors) — policy 3.1; Law 94-V art. 7, 12."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms.validators import Length, NumberRange, Optional

from .. import labels
from ..models.retention import ACTIONS
from ..permissions import RETENTION_RULES_ADMIN, RETENTION_RULES_READ, RETENTION_RUNS_READ, RETENTION_RUNS_START
from ..services import audit, compliance_settings, dormant, retention, retention_runs
from .base import ProtectedView, RoleModelView, SecureForm
from .inputs import arg_int

EDITABLE = ("period_years", "action", "keep_years", "after_period", "legal_reference")
ACTION_LABELS = {"delete": _l("Delete"), "depersonalise": _l("Depersonalise")}
RECORD_TYPE_LABELS = {
    "booking": _l("Bookings"), "communication": _l("Support messages"), "privacy_request": _l("Privacy requests"),
    "client": _l("Client record"), "marketing_opt_out": _l("Marketing opt-outs"), "client_account": _l("Site account"),
    "consent": _l("Consents"), "export_package": _l("Export packages"),
}


class RetentionRuleView(RoleModelView):
    """One row per record type: what erasure does, how long the daily run keeps it, and the legal reference."""

    roles_read = RETENTION_RULES_READ
    roles_write = RETENTION_RULES_ADMIN
    allow_edit = True

    column_list = ("record_type",) + EDITABLE + ("updated_at",)
    column_labels = {
        "record_type": _l("Record type"), "period_years": _l("Kept after erasure (years)"),
        "action": _l("On erasure"), "keep_years": _l("Kept for everyone (years)"),
        "after_period": _l("After that"), "legal_reference": _l("Legal reference"), "updated_at": _l("Updated"),
    }
    column_formatters = {
        "record_type": lambda v, c, m, n: RECORD_TYPE_LABELS.get(m.record_type, m.record_type),
        "legal_reference": lambda v, c, m, n: labels.legal_reference(m.legal_reference),
        "action": lambda v, c, m, n: ACTION_LABELS.get(m.action, m.action),
        "after_period": lambda v, c, m, n: ACTION_LABELS.get(m.after_period, "—") if m.keep_years is not None
        else _("not limited"),
    }
    column_default_sort = ("id", False)
    form_columns = EDITABLE
    form_choices = {"action": [(a, a) for a in ACTIONS], "after_period": [(a, a) for a in ACTIONS]}
    form_args = {
        "period_years": {"validators": [NumberRange(min=0, max=100)]},
        "keep_years": {"validators": [Optional(), NumberRange(min=0, max=100)]},
        "legal_reference": {"validators": [Length(min=1, max=300)]},
    }

    @expose("/")
    def index_view(self):
        retention.prepare_rules()
        return super().index_view()

    def on_model_change(self, form, model, is_created):
        if model.keep_years is not None and model.after_period is None:
            model.after_period = "delete"
        changed = sorted(name for name in EDITABLE if getattr(form, name).object_data != getattr(form, name).data)
        audit.record("retention_rule.update", object_type="retention_rule", object_id=model.id,
                     details={"record_type": model.record_type, "fields": changed})


class RetentionRunsView(ProtectedView):
    roles_read = RETENTION_RUNS_READ
    roles_write = RETENTION_RUNS_START

    @expose("/")
    def index(self):
        return self.render("admin/retention/runs.html", runs=retention_runs.recent_runs(),
                           limits=retention_runs.limits(), action_labels=ACTION_LABELS,
                           type_labels=RECORD_TYPE_LABELS)

    @expose("/<int:run_id>/")
    def details_view(self, run_id):
        run = retention_runs.get_run(run_id)
        if run is None:
            abort(404)
        return self.render("admin/retention/run.html", run=run, action_labels=ACTION_LABELS,
                           type_labels=RECORD_TYPE_LABELS)

    @expose("/dry-run/", methods=("POST",))
    def dry_run_view(self):
        if not self.may_write:
            abort(403)
        if SecureForm().validate_on_submit():
            run = retention_runs.run(dry_run=True, trigger="staff")
            flash(ngettext("Dry run finished: %(count)s row would change; nothing was changed.",
                           "Dry run finished: %(count)s rows would change; nothing was changed.", run.total_rows,
                           count=format_number(run.total_rows)),
                  "success")
            return redirect(self.get_url(".details_view", run_id=run.id))
        return redirect(self.get_url(".index"))


class DormantAccountsView(ProtectedView):
    roles_read = RETENTION_RUNS_READ
    roles_write = RETENTION_RUNS_START

    @expose("/")
    def index(self):
        after = arg_int("after") or 0
        ids = dormant.review_page(after_id=after)
        return self.render("admin/retention/dormant.html", ids=ids, after=after, page=dormant.PAGE,
                           years=compliance_settings.dormant_years(),
                           enabled=compliance_settings.dormant_erasure_enabled())

    @expose("/erase/", methods=("POST",))
    def erase_view(self):
        if not self.may_write:
            abort(403)
        if SecureForm().validate_on_submit():
            ids = [int(v) for v in request.form.getlist("client_id") if v.isdigit() and len(v) < 12]
            try:
                opened = dormant.open_erasure_requests(current_user, ids)
            except dormant.DormantError as error:
                flash(str(error), "error")
            else:
                flash(ngettext("%(count)s erasure request opened; it follows the normal approval path.",
                               "%(count)s erasure requests opened; they follow the normal approval path.", len(opened),
                               count=format_number(len(opened))),
                      "success")
        return redirect(self.get_url(".index"))
