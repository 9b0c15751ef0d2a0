"""Privacy requests: the queue staff work from, the request page and its next steps (policy 5.2–5.4, 3.2.2, 4.1).

Thin over the request services: the view offers only what `lifecycle.legal_next_steps` returns and hands every POST
to `steps.take_step` (STEP_FIELDS maps a step's form to its fields), which enforces the lifecycle, the roles and the
four-eyes rule again and owns the transaction.
"""

from flask import Response, abort, flash, jsonify, redirect, request, stream_with_context
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..permissions import APPROVE, CERTIFICATES_READ, EXPORTS_DOWNLOAD, REQUESTS_HANDLE, REQUESTS_READ, has_any
from ..extensions import db
from ..models.base import utcnow
from ..models.clients import LANGUAGES, Client
from ..models.optouts import CHANNELS as OPT_OUT_CHANNELS
from ..models.requests import CHANNELS, OPEN_STATUSES, REQUEST_TYPES, STATUSES, TYPE_CLAUSES, PrivacyRequest
from ..models.staff import StaffUser
from .. import labels
from ..services import csvstream, deadlines, intake, lifecycle, live_status, matching, queues, steps
from ..services import export as export_service
from ..services.rectification import RECTIFIABLE_FIELDS
from .formatting import local_time_formatter, time_left
from .base import RoleModelView, SecureForm
from .request_bulk import BulkDecisionMixin
from .request_list import RequestListMixin, assignee_name, client_name

TYPE_LABELS, STATUS_LABELS, CHANNEL_LABELS = labels.REQUEST_TYPES, labels.REQUEST_STATUSES, labels.REQUEST_CHANNELS
# What the request page says while its job runs, and how it ends (refreshed by static/live_status.js).
LIVE_STEP_LABELS = {"queued": _l("queued"), "running": _l("running"), "retrying": _l("waiting to retry"),
                    "lost": _l("lost, being queued again"), "done": _l("done"), "failed": _l("failed")}
LIVE_STEP_MESSAGES = {
    "queued": _l("Queued: the job starts as soon as a worker is free."),
    "running": _l("Running: this page updates itself."),
    "retrying": _l("The job failed and will be tried again automatically."),
    "lost": _l("The job was lost; the system queues it again within minutes."),
    "done": _l("Done."),
    "failed": _l("Failed: the job stopped with an error. A manager can retry it from Jobs, where the error is "
                 "shown; if it fails again, contact the administrator."),
}
NO_DATA_REPLY = _l("We have checked our records and hold no personal data about you.")


def _time_left_formatter(view, context, model, name):
    if not model.is_open or model.due_at is None:
        return ""
    urgency = queues.urgency(model)
    css = {"overdue": "overdue", "due_soon": "due-soon"}.get(urgency, "")
    return Markup('<span class="{}">{}</span>').format(css, time_left(model.due_at))


class OverdueFilter(BaseSQLAFilter):
    """Open requests past their deadline."""

    def apply(self, query, value, alias=None):
        condition = (PrivacyRequest.due_at < utcnow()) & PrivacyRequest.status.in_(OPEN_STATUSES)
        return query.filter(condition if value == "1" else ~condition)

    def operation(self):
        return _l("is")


class OpenFilter(BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        condition = PrivacyRequest.status.in_(OPEN_STATUSES)
        return query.filter(condition if value == "1" else ~condition)

    def operation(self):
        return _l("is")


class AssignedToMeFilter(BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        mine = PrivacyRequest.assigned_to_id == current_user.id
        return query.filter(mine if value == "1" else ~mine)

    def operation(self):
        return _l("is")


def _handler_options():
    return [(str(u.id), str(u)) for u in queues.handler_choices()]


# --- forms ----------------------------------------------------------------------------------------------------------

class RequestCreateForm(SecureForm):
    """What staff enter when a request arrives; the type decides which of the detail fields matter."""

    type = SelectField(_l("Type"), choices=[(t, TYPE_LABELS[t]) for t in REQUEST_TYPES],
                       validators=[DataRequired()])
    channel = SelectField(_l("Channel"), choices=[(c, CHANNEL_LABELS[c]) for c in CHANNELS], default="email")
    requester_name = StringField(_l("Requester's name"), validators=[Optional(), Length(max=200)])
    requester_email = StringField(_l("Requester's e-mail"), validators=[Optional(), Length(max=254)])
    requester_phone = StringField(_l("Requester's phone"), validators=[Optional(), Length(max=40)])
    identifier = StringField(_l("IIN or PNR given by the requester"), validators=[Optional(), Length(max=40)],
                             description=_l("Used to find the client; e-mail and phone above are used too."))
    description = TextAreaField(_l("What the requester asks"), validators=[Optional(), Length(max=2000)])
    new_full_name = StringField(_l("Rectification: new full name"), validators=[Optional(), Length(max=200)])
    new_email = StringField(_l("Rectification: new e-mail"), validators=[Optional(), Length(max=254)])
    new_phone = StringField(_l("Rectification: new phone"), validators=[Optional(), Length(max=40)])
    new_iin = StringField(_l("Rectification: new IIN"), validators=[Optional(), Length(max=20)])
    new_position = StringField(_l("Rectification: new position"), validators=[Optional(), Length(max=120)])
    new_date_of_birth = StringField(_l("Rectification: new date of birth (YYYY-MM-DD)"),
                                    validators=[Optional(), Length(max=10)])
    new_preferred_language = SelectField(_l("Rectification: new preferred language"),
                                         choices=[("", "—")] + [(c, c) for c in LANGUAGES], default="")
    blocked_until = StringField(_l("Blocking: blocked until (YYYY-MM-DD, optional)"),
                                validators=[Optional(), Length(max=10)])
    recipient = StringField(_l("Third-party grant: recipient (person or organisation)"),
                            validators=[Optional(), Length(max=200)])
    scope = TextAreaField(_l("Third-party grant: which data"), validators=[Optional(), Length(max=2000)])
    expires_on = StringField(_l("Third-party grant: expires on (YYYY-MM-DD)"), validators=[Optional(), Length(max=10)])
    opt_out_channel = SelectField(_l("Marketing opt-out: channel"),
                                  choices=[(c, c) for c in OPT_OUT_CHANNELS], default="all")
    client_id = HiddenField()

    def payload(self):
        changes = {f: getattr(self, f"new_{f}").data for f in RECTIFIABLE_FIELDS}
        return {
            "changes": changes, "blocked_until": self.blocked_until.data, "recipient": self.recipient.data,
            "scope": self.scope.data, "expires_on": self.expires_on.data, "channel": self.opt_out_channel.data,
        }


class StepForm(SecureForm):
    version = HiddenField()


class VerifyIdentityForm(StepForm):
    method = SelectField(_l("How was the identity checked?"),
                         choices=[(k, v) for k, v in lifecycle.IDENTITY_METHODS.items()],
                         validators=[DataRequired()])
    note = StringField(_l("Note (document type and last 4 digits at most; never a copy)"),
                       validators=[Optional(), Length(max=200)])


class CommentForm(StepForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])


class RequiredCommentForm(StepForm):
    comment = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=2000)])


class ReasonForm(StepForm):
    comment = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class CompleteForm(StepForm):
    outcome = TextAreaField(_l("Reply / outcome"), validators=[Optional(), Length(max=2000)])


class AssignForm(StepForm):
    assignee = SelectField(_l("Assign to"), validators=[DataRequired()])


class MergeForm(StepForm):
    duplicate_of = SelectField(_l("Merge into request"), validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])


class MatchForm(StepForm):
    client_id = SelectField(_l("Client"), validators=[DataRequired()])


def _staff(form_field):
    return db.session.get(StaffUser, int(form_field.data))


def _client(form_field):
    return db.session.get(Client, int(form_field.data))


def _request(form_field):
    return db.session.get(PrivacyRequest, int(form_field.data))


# Each step the page offers: its form, and how the form's data become `steps.take_step`'s fields.
STEP_FIELDS = {
    "verify_identity": (VerifyIdentityForm, lambda f: {"method": f.method.data, "note": f.note.data}),
    "start": (StepForm, lambda f: {}),
    "submit_for_approval": (CommentForm, lambda f: {"comment": f.comment.data}),
    "approve": (RequiredCommentForm, lambda f: {"comment": f.comment.data}),
    "release": (StepForm, lambda f: {}),
    "complete": (CompleteForm, lambda f: {"outcome": f.outcome.data}),
    "retry": (StepForm, lambda f: {}),
    "reject": (ReasonForm, lambda f: {"comment": f.comment.data}),
    "cancel": (ReasonForm, lambda f: {"comment": f.comment.data}),
    "merge_duplicate": (MergeForm, lambda f: {"into": _request(f.duplicate_of), "comment": f.comment.data}),
    "assign": (AssignForm, lambda f: {"to": _staff(f.assignee)}),
    "extend_deadline": (ReasonForm, lambda f: {"comment": f.comment.data}),
    "match_client": (MatchForm, lambda f: {"client": _client(f.client_id)}),
}
STEP_BUTTON_CLASS = {"approve": "btn-success", "reject": "btn-danger", "cancel": "btn-outline-danger"}
# Steps that decide or end a request (approving an erasure erases): the page asks again before taking them.
CONFIRM_STEPS = frozenset({"approve", "reject", "cancel", "merge_duplicate"})
CONFIRM_QUESTIONS = {
    "approve": _l("Approve request #%(id)s? It is then carried out (an erasure cannot be undone)."),
    "reject": _l("Reject request #%(id)s? It is closed without being carried out."),
    "cancel": _l("Cancel request #%(id)s? It is closed without being carried out."),
    "merge_duplicate": _l("Close request #%(id)s as a duplicate?"),
}


class BulkAssignForm(SecureForm):
    ids = HiddenField()
    assignee = SelectField(_l("Assign to"), validators=[DataRequired()])


class PrivacyRequestView(RequestListMixin, BulkDecisionMixin, RoleModelView):
    roles_read = REQUESTS_READ
    roles_write = REQUESTS_HANDLE
    allow_create = True
    action_roles = {"assign_to_me": REQUESTS_HANDLE, "assign_to_colleague": REQUESTS_HANDLE,
                    "export_selected": REQUESTS_READ, "approve_selected": APPROVE, "reject_selected": APPROVE}
    type_labels = TYPE_LABELS
    status_labels = STATUS_LABELS
    form = RequestCreateForm
    list_template = "admin/request_list.html"
    create_template = "admin/request_create.html"

    column_list = ("id", "type", "client", "assigned_to", "status", "received_at", "due_at", "time_left")
    column_labels = {
        "id": _l("ID"), "type": _l("Type"), "status": _l("Status"), "received_at": _l("Received (Almaty)"),
        "due_at": _l("Due (Almaty)"), "client_id": _l("Client"), "client": _l("Client"),
        "assigned_to": _l("Assigned to"),
        "time_left": _l("Time left"), "channel": _l("Channel"), "assigned_to_id": _l("Assigned to (staff id)"),
    }
    column_formatters = {
        "received_at": local_time_formatter,
        "due_at": local_time_formatter,
        "time_left": _time_left_formatter,
        "client": client_name,
        "assigned_to": assignee_name,
        "type": lambda v, c, m, n: TYPE_LABELS.get(m.type, m.type),
        "status": lambda v, c, m, n: STATUS_LABELS.get(m.status, m.status),
    }
    column_filters = (
        "type", "status", "channel", "received_at", "due_at",
        OverdueFilter(PrivacyRequest.due_at, _l("Overdue"), options=(("1", _l("Yes")), ("0", _l("No")))),
        OpenFilter(PrivacyRequest.status, _l("Open"), options=(("1", _l("Yes")), ("0", _l("No")))),
        AssignedToMeFilter(PrivacyRequest.assigned_to_id, _l("Assigned to me"),
                           options=(("1", _l("Yes")), ("0", _l("No")))),
        "assigned_to_id",
    )
    column_choices = {"type": [(t, TYPE_LABELS[t]) for t in REQUEST_TYPES],
                      "status": [(s, STATUS_LABELS[s]) for s in STATUSES],
                      "channel": [(c, CHANNEL_LABELS[c]) for c in CHANNELS]}
    column_sortable_list = ("id", "received_at", "due_at", "status", "type")
    column_default_sort = ("id", True)
    column_select_related_list = (PrivacyRequest.assigned_to, PrivacyRequest.client)

    # --- create ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _new_request_fields(form):
        return dict(type=form.type.data, channel=form.channel.data, requester_name=form.requester_name.data,
                    requester_email=form.requester_email.data, requester_phone=form.requester_phone.data,
                    identifier=form.identifier.data, description=form.description.data, payload=form.payload(),
                    client=_preselected_client(form.client_id.data))

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method == "GET" and _preselected_client(request.args.get("client_id")) is not None:
            form.client_id.data = request.args.get("client_id")
        return form

    def render(self, template, **kwargs):
        if template == self.create_template and "form" in kwargs:
            kwargs["preselected_client"] = _preselected_client(kwargs["form"].client_id.data)
        return super().render(template, **kwargs)

    def validate_form(self, form):
        valid = super().validate_form(form)
        if request.method == "POST" and isinstance(form, RequestCreateForm):
            # Show the service's field errors together with the form's own, in one round.
            errors = intake.check_new_request(**self._new_request_fields(form))
            _attach_errors(form, lifecycle.InvalidInput("", errors))
            valid = valid and not errors
        return valid

    def create_model(self, form):
        try:
            req = intake.create_request(by=current_user._get_current_object(), **self._new_request_fields(form))
        except lifecycle.WorkflowError as error:
            _attach_errors(form, error)
            flash(str(error), "error")
            return False
        return req

    def get_save_return_url(self, model, is_created=False):
        return self.get_url(".details_view", id=model.id)

    # --- the request page -----------------------------------------------------------------------------------------

    @expose("/details/")
    def details_view(self):
        req = self.get_one(request.args.get("id"))
        if req is None:
            flash(_("That request does not exist."), "error")
            return redirect(self.get_url(".index_view"))
        return self._render_request(req)

    def _step_forms(self, req, failed=None):
        offered = lifecycle.legal_next_steps(req, current_user) if self.may_write else []
        forms = {}
        for step in offered:
            if failed and failed[0] == step:
                forms[step] = failed[1]
                continue
            form = STEP_FIELDS[step][0](prefix=step, formdata=None)
            form.version.data = req.version
            self._fill_choices(step, form, req)
            if step == "complete" and req.client_id is None:
                form.outcome.data = str(NO_DATA_REPLY)
            forms[step] = form
        return forms

    def _fill_choices(self, step, form, req):
        if step == "assign":
            form.assignee.choices = _handler_options()
        elif step == "merge_duplicate":
            form.duplicate_of.choices = [(str(d.id), f"#{d.id} ({STATUS_LABELS[d.status]})")
                                         for d in matching.find_duplicates(req)]
        elif step == "match_client":
            form.client_id.choices = [
                (str(c.id), f"#{c.id} {c.full_name or ''} ({', '.join(str(MATCH_LABELS[m]) for m in matched)})")
                for c, matched in matching.explain_candidates(req, matching.find_candidates(req))]

    def _render_request(self, req, failed=None, status=200):
        forms = self._step_forms(req, failed)
        if "merge_duplicate" in forms and not forms["merge_duplicate"].duplicate_of.choices:
            forms.pop("merge_duplicate")
        if "match_client" in forms and not forms["match_client"].client_id.choices:
            forms.pop("match_client")
        rule = deadlines.rule_for(req.type)
        page = self.render(
            "admin/request_details.html", req=req, model=req, forms=forms, rule=rule,
            labels=lifecycle.ACTION_LABELS, type_labels=TYPE_LABELS, status_labels=STATUS_LABELS,
            clause=TYPE_CLAUSES.get(req.type), time_left=time_left(req.due_at) if req.is_open else "",
            overdue=bool(req.is_open and req.due_at and req.due_at < utcnow()),
            duplicates=matching.find_duplicates(req), erasure_blocked=lifecycle.erasure_blocked(req),
            candidates=(matching.explain_candidates(req, matching.find_candidates(req))
                        if req.client_id is None else []), match_labels=MATCH_LABELS,
            not_offered=_why_not_offered(req), live=live_status.request_status(req),
            live_labels=LIVE_STEP_LABELS, live_messages=LIVE_STEP_MESSAGES, channel_labels=CHANNEL_LABELS,
            identity_methods=lifecycle.IDENTITY_METHODS, button_class=STEP_BUTTON_CLASS,
            show_certificate=bool(req.certificate) and has_any(CERTIFICATES_READ),
            export_packages=export_service.packages_for(req.id) if has_any(EXPORTS_DOWNLOAD) else [],
            return_url=self.get_url(".index_view"))
        return page, status

    @expose("/step/", methods=("POST",))
    def step_view(self):
        """Take one next step on a request; the service decides whether it is legal for this user."""
        if not self.may_write:
            abort(403)
        req = self.get_one(request.form.get("id"))
        if req is None:
            flash(_("That request does not exist."), "error")
            return redirect(self.get_url(".index_view"))
        step = request.form.get("action", "")
        if step not in STEP_FIELDS:
            flash(_("That step is not possible for this request now."), "error")
            return redirect(self.get_url(".details_view", id=req.id))
        form_class, to_fields = STEP_FIELDS[step]
        form = form_class(prefix=step)
        self._fill_choices(step, form, req)
        if not form.validate():
            flash(_("Please correct the highlighted fields. Nothing was saved."), "error")
            return self._render_request(req, failed=(step, form), status=400)
        stale = bool(form.version.data) and str(form.version.data) != str(req.version)
        if step in CONFIRM_STEPS and request.form.get("confirmed") != "1" and not stale:
            # A real second step on the server: the same fields go back with confirmed=1; nothing is saved yet.
            return self.render("admin/request_step_confirm.html", req=req, step=step, form=form,
                               question=CONFIRM_QUESTIONS[step] % {"id": req.id},
                               label=lifecycle.ACTION_LABELS.get(step, step),
                               button_class=STEP_BUTTON_CLASS.get(step, "btn-primary"),
                               return_url=self.get_url(".details_view", id=req.id))
        try:
            steps.take_step(req, step, current_user._get_current_object(), expected_version=form.version.data or None,
                            **to_fields(form))
        except lifecycle.JobNotQueued as error:
            flash(str(error), "warning")
        except lifecycle.WorkflowError as error:
            _attach_errors(form, error)
            flash(str(error), "error")
            req = self.get_one(req.id)
            code = 400 if isinstance(error, lifecycle.InvalidInput) else 409
            return self._render_request(req, failed=(step, form), status=code)
        else:
            flash(_("Saved: %(step)s.", step=lifecycle.ACTION_LABELS.get(step, step)), "success")
        return redirect(self.get_url(".details_view", id=req.id))

    @expose("/status/")
    def status_view(self):
        """The request's status and its job's step as JSON, polled by static/live_status.js (no personal data)."""
        req = self.get_one(request.args.get("id"))
        if req is None:
            return jsonify({"error": _("That request does not exist.")}), 404
        data = live_status.request_status(req)
        data.update(status_label=str(STATUS_LABELS.get(req.status, req.status)),
                    step_label=str(LIVE_STEP_LABELS.get(data["step"], "")),
                    message=str(LIVE_STEP_MESSAGES.get(data["step"], "")))
        return jsonify(data)

    # --- bulk actions ---------------------------------------------------------------------------------------------

    def _selected(self, ids):
        try:
            keys = sorted({int(i) for i in ids})
        except (TypeError, ValueError):
            return None
        rows = self.get_query().filter(PrivacyRequest.id.in_(keys)).all() if keys else []
        return rows if len(rows) == len(keys) and rows else None

    @action("assign_to_me", _l("Assign to me"))
    def action_assign_to_me(self, ids):
        self._assign(ids, current_user._get_current_object())

    @action("assign_to_colleague", _l("Assign to a colleague"))
    def action_assign_to_colleague(self, ids):
        rows = self._selected(ids)
        if rows is None:
            flash(_("Select at least one request."), "error")
            return None
        form = BulkAssignForm(formdata=None)
        form.ids.data = ",".join(str(r.id) for r in rows)
        form.assignee.choices = _handler_options()
        return self.render("admin/request_assign.html", form=form, rows=rows,
                           return_url=self.get_url(".index_view"))

    @expose("/assign/", methods=("POST",))
    def assign_selected_view(self):
        if not self.may_write:
            abort(403)
        form = BulkAssignForm()
        form.assignee.choices = _handler_options()
        if not form.validate():
            flash(_("Choose an active colleague who handles requests."), "error")
            return redirect(self.get_url(".index_view"))
        self._assign((form.ids.data or "").split(","), db.session.get(StaffUser, int(form.assignee.data)))
        return redirect(self.get_url(".index_view"))

    def _assign(self, ids, to):
        rows = self._selected(ids)
        if rows is None:
            flash(_("Select at least one request."), "error")
            return
        try:
            steps.assign(rows, to, current_user._get_current_object())
        except lifecycle.WorkflowError as error:
            flash(_("Nothing was assigned: %(reason)s", reason=str(error)), "error")
        else:
            flash(ngettext("%(count)s request assigned to %(who)s.", "%(count)s requests assigned to %(who)s.",
                           len(rows), count=format_number(len(rows)), who=str(to)), "success")

    @action("export_selected", _l("Export selected as CSV (ids and dates only)"))
    def action_export_selected(self, ids):
        rows = self._selected(ids)
        if rows is None:
            flash(_("Select at least one request."), "error")
            return None
        query = self.get_query().filter(PrivacyRequest.id.in_([r.id for r in rows])).order_by(PrivacyRequest.id)
        return self._csv_response(query, "selected")

    @expose("/export.csv")
    def export_csv_view(self):
        """The filtered list as CSV, streamed: ids, type, status and dates, never personal data."""
        args = self._get_list_extra_args()
        sort_column = self._get_column_by_idx(args.sort)
        if sort_column is not None:
            sort_column = sort_column[0]
        _count, query = self.get_list(0, sort_column, args.sort_desc, args.search, args.filters, execute=False,
                                      page_size=0)
        return self._csv_response(query, "filtered")

    def _csv_response(self, query, scope):
        queues.record_list_export(scope)
        columns = ("id", "type", "status", "channel", "client_id", "assigned_to_id", "received_at", "due_at",
                   "extended_at", "approved_at", "completed_at")

        rows = ([_csv_value(getattr(req, c)) for c in columns] for req in query.yield_per(500))
        filename = f"requests-{utcnow():%Y%m%d-%H%M}.csv"
        return Response(stream_with_context(csvstream.text_chunks(columns, rows)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_value(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "hour") else value.isoformat()
    return value


def _attach_errors(form, error):
    for field, message in (getattr(error, "field_errors", None) or {}).items():
        target = getattr(form, field, None)
        if target is not None:
            target.errors = list(target.errors or []) + [str(message)]



MATCH_LABELS = {"email": _l("e-mail"), "phone": _l("phone"), "iin": _l("IIN"), "pnr": _l("PNR")}


def _preselected_client(value):
    """The client a request is created for from the client's page (`?client_id=`), or None."""
    try:
        key = int(value) if value else None
    except (TypeError, ValueError):
        return None
    client = db.session.get(Client, key) if key is not None and 0 < key < 2 ** 31 else None
    return client if client is not None and client.status != "erased" else None


def _why_not_offered(req):
    """{step: reason} for the decision steps a manager looks for but may not take here (e.g. four-eyes)."""
    if not has_any(APPROVE):
        return {}
    reasons = {}
    for action in ("approve",):
        step = lifecycle.find_step(req, action)
        if step is None:
            continue
        allowed, reason = lifecycle.may_take(step, req, current_user._get_current_object())
        if not allowed:
            reasons[action] = str(reason)
        elif lifecycle.erasure_blocked(req):
            reasons[action] = str(_l("The client is blocked: their data must not be destroyed until the block is "
                                     "lifted (Law art. 1(3))."))
    return reasons
