"""The data map (admin only) and the per-system tasks on a request (policy 5.2-5.4; Law No. 94-V art. 12)."""
import json

from flask import abort, flash, redirect
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from .. import labels
from ..models.systems import BACKOFFICE, MANUAL, PERSONAL_DATA_CATEGORIES, SQL, WEBHOOK
from ..permissions import APPROVE, REQUESTS_HANDLE, SYSTEMS_ADMIN, has_any
from ..services import audit, datamap, fanout
from .base import ProtectedView, RoleModelView, SecureForm

KIND_LABELS = {SQL: _l("SQL database"), WEBHOOK: _l("Webhook"), MANUAL: _l("Manual (a person confirms)"),
               BACKOFFICE: _l("This back-office database")}
REQUEST_TYPE_LABELS = {"erasure": _l("Erasure"), "consent_withdrawal": _l("Consent withdrawal"),
                       "access": _l("Access"), "rectification": _l("Rectification"), "blocking": _l("Blocking")}
TASK_STATUS_LABELS = {"pending": _l("queued"), "running": _l("running"), "waiting": _l("waiting for confirmation"),
                      "done": _l("done"), "failed": _l("failed"), "cannot": _l("cannot be done (recorded)")}
FIELDS = ("name", "owner", "kind", "request_types", "held_categories", "data_categories", "country",
          "retention_reference",
          "connection_env", "webhook_url", "secret_env", "dataset", "enabled")


def _country(view, context, model, name):
    code = escape(model.country or "")
    if model.outside_home_country:
        return Markup('<span class="badge badge-warning">{}</span> {}').format(
            code, _("outside Kazakhstan: cross-border transfer (art. 12)"))
    return code


def _kind(view, context, model, name):
    return KIND_LABELS.get(model.kind, model.kind)


def _held(view, context, model, name):
    if not model.held_categories:
        return Markup('<span class="badge badge-warning">{}</span>').format(
            _("none recorded: the processing register cannot list this system"))
    return ", ".join(str(labels.label(c, "data_category")) for c in model.held_categories)


def _types(view, context, model, name):
    return ", ".join(str(REQUEST_TYPE_LABELS.get(t, t)) for t in model.request_types or [])


class DataSystemView(RoleModelView):
    """Systems that hold client data. System #1 (this database) cannot be deleted or change kind."""

    roles_read = SYSTEMS_ADMIN
    roles_write = SYSTEMS_ADMIN
    allow_create = True
    allow_edit = True
    allow_delete = True

    column_list = ("id", "name", "owner", "kind", "request_types", "held_categories", "country",
                   "retention_reference", "enabled")
    column_details_list = FIELDS
    column_labels = {
        "id": _l("ID"), "name": _l("Name"), "owner": _l("Owner"), "kind": _l("Kind"),
        "request_types": _l("Takes part in"), "held_categories": _l("Categories of personal data held"),
        "data_categories": _l("Data held (the owner's description)"),
        "country": _l("Country of storage"), "retention_reference": _l("Retention rule"),
        "connection_env": _l("Environment variable with the connection URL"), "webhook_url": _l("Webhook URL"),
        "secret_env": _l("Environment variable with the webhook secret"), "dataset": _l("Dataset (JSON)"),
        "enabled": _l("Enabled"),
    }
    column_formatters = {"country": _country, "kind": _kind, "request_types": _types, "held_categories": _held}
    column_formatters_detail = column_formatters
    column_default_sort = ("id", False)
    form_columns = FIELDS
    form_overrides = {"kind": SelectField, "request_types": SelectMultipleField,
                      "held_categories": SelectMultipleField, "dataset": TextAreaField}
    form_args = {
        "kind": {"choices": [(k, KIND_LABELS[k]) for k in (SQL, WEBHOOK, MANUAL)]},
        "request_types": {"choices": list(REQUEST_TYPE_LABELS.items())},
        "held_categories": {"choices": labels.choices("data_category", PERSONAL_DATA_CATEGORIES),
                            "description": _l("The processing register lists this system under each category "
                                              "chosen here.")},
        "name": {"validators": [DataRequired(), Length(max=120)]},
        "owner": {"validators": [DataRequired(), Length(max=200)]},
        "country": {"validators": [DataRequired(), Length(min=2, max=2)]},
    }

    def on_form_prefill(self, form, id):
        form.dataset.data = json.dumps(form.dataset.object_data, ensure_ascii=False, indent=1) \
            if form.dataset.object_data else ""
        if form.kind.object_data == BACKOFFICE:
            form.kind.choices = [(BACKOFFICE, KIND_LABELS[BACKOFFICE])]

    def on_model_change(self, form, model, is_created):
        raw = form.dataset.data
        if isinstance(raw, str):
            try:
                model.dataset = json.loads(raw) if raw.strip() else None
            except ValueError:
                raise ValidationError(_("The dataset is not valid JSON.")) from None
        try:
            datamap.validate(model)
        except datamap.SystemInvalid as exc:
            raise ValidationError("; ".join(f"{self.column_labels.get(k, k)}: {v}"
                                            for k, v in exc.field_errors.items())) from None
        audit.record("data_system.create" if is_created else "data_system.update", object_type="data_system",
                     object_id=model.id, details={"kind": model.kind, "fields": sorted(
                         name for name in FIELDS if getattr(form, name).object_data != getattr(form, name).data)})

    def on_model_delete(self, model):
        if model.kind == BACKOFFICE:
            raise ValidationError(_("The back-office database is always part of the data map."))
        audit.record("data_system.delete", object_type="data_system", object_id=model.id)


class TaskCommentForm(SecureForm):
    comment = TextAreaField(_l("What was done"), validators=[DataRequired(), Length(max=1000)])


class TaskCannotForm(SecureForm):
    comment = TextAreaField(_l("Why it cannot be done"), validators=[DataRequired(), Length(max=1000)])
    legal_reference = StringField(_l("Legal reference"), validators=[DataRequired(), Length(max=300)])


class SystemTaskView(ProtectedView):
    """POST-only actions on a request's system tasks; the request page shows the tasks and these forms."""

    roles_read = REQUESTS_HANDLE
    roles_write = REQUESTS_HANDLE

    def is_visible(self):
        return False

    def _back(self, request_id):
        return redirect(self.get_url("requests.details_view", id=request_id))

    def _act(self, request_id, action):
        try:
            action()
        except fanout.TaskError as error:
            flash(str(error), "error")
        else:
            flash(_("Saved."), "success")
        return self._back(request_id)

    @expose("/<int:request_id>/<int:task_id>/confirm", methods=("POST",))
    def confirm_view(self, request_id, task_id):
        form = TaskCommentForm()
        if not form.validate_on_submit():
            flash(_("Say what was done (at most %(n)s characters).", n=1000), "error")
            return self._back(request_id)
        return self._act(request_id, lambda: fanout.confirm_manual(task_id, request_id, current_user,
                                                                   form.comment.data))

    @expose("/<int:request_id>/<int:task_id>/cannot", methods=("POST",))
    def cannot_view(self, request_id, task_id):
        if not has_any(APPROVE):
            abort(403)
        form = TaskCannotForm()
        if not form.validate_on_submit():
            flash(_("Give the reason and the legal reference."), "error")
            return self._back(request_id)
        return self._act(request_id, lambda: fanout.record_cannot(task_id, request_id, current_user,
                                                                  form.comment.data, form.legal_reference.data))

    @expose("/<int:request_id>/<int:task_id>/retry", methods=("POST",))
    def retry_view(self, request_id, task_id):
        if not has_any(APPROVE):
            abort(403)
        if not SecureForm().validate_on_submit():
            flash(_("The form expired; reload the page and try again."), "error")
            return self._back(request_id)
        return self._act(request_id, lambda: fanout.retry_task(task_id, request_id, current_user))

    @expose("/")
    def index(self):
        abort(404)


def task_forms():
    return {"confirm": TaskCommentForm(), "cannot": TaskCannotForm(), "retry": SecureForm()}
