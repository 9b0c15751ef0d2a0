"""The marketing suppression list (policy 3.2.2): list, add, remove, import, campaign scrub, hash export.

Support and managers change the list; supervisors read it. Searching goes through the keyed hashes (an index
lookup that also finds entries whose plaintext was erased), never an ILIKE scan.
"""
from flask import Response, abort, flash, jsonify, redirect, request, stream_with_context
from flask_admin import expose
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from sqlalchemy import false
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .. import labels
from ..permissions import OPTOUTS_READ, OPTOUTS_WRITE
from ..models.optouts import CHANNELS, SOURCES
from ..services import live_status, optout_import_runs
from ..services import optouts as optout_service
from ..services import scrub as scrub_service
from ..services import scrub_runs, scrub_uploads
from . import formatting
from .base import RoleModelView, SecureForm

# What an import's page says while its job runs (static/live_status.js refreshes it); the outcome is on the page.
IMPORT_STEP_MESSAGES = {
    "queued": _l("Waiting for a worker: the import starts as soon as one is free."),
    "checking": _l("Step 1 of 2: every row is checked before any is imported — %(done)s of %(total)s rows."),
    "importing": _l("Step 2 of 2: importing — %(done)s of %(total)s rows."),
}


class OptOutForm(SecureForm):
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    channel = SelectField(_l("Channel"), choices=labels.choices("optout_channel", CHANNELS), default="all")
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=optout_service.MAX_REASON)])


class RemovalForm(SecureForm):
    reason = TextAreaField(_l("Reason for removal"),
                           validators=[DataRequired(), Length(max=optout_service.MAX_REASON)])


class CsvUploadForm(SecureForm):
    file = FileField(_l("CSV file (UTF-8)"), validators=[FileRequired()])


class ScrubColumnsForm(SecureForm):
    email_column = SelectField(_l("E-mail column"), choices=[], validate_choice=False)
    phone_column = SelectField(_l("Phone column"), choices=[], validate_choice=False)
    channel = SelectField(_l("Campaign channel"), choices=[
        ("email", _l("E-mail")), ("sms", _l("SMS")), ("phone", _l("Phone calls"))])


def _address(view, context, model, name):
    value = getattr(model, name)
    if value:
        return value
    if getattr(model, f"{name}_hash"):
        return Markup('<span class="text-muted">{}</span>').format(_("erased (hash kept)"))
    return ""


def _column_index(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class MarketingOptOutView(RoleModelView):
    roles_read = OPTOUTS_READ
    roles_write = OPTOUTS_WRITE
    allow_create = True
    form = OptOutForm
    list_template = "admin/optouts/list.html"

    column_list = ("id", "email", "phone", "channel", "source", "created_at", "removed_at")
    column_labels = {
        "id": _l("ID"), "email": _l("E-mail"), "phone": _l("Phone"), "channel": _l("Channel"),
        "source": _l("Source"), "created_at": _l("Added"), "removed_at": _l("Removed"), "reason": _l("Reason"),
        "client_id": _l("Client"), "request_id": _l("Request"), "created_by": _l("Added by"),
        "removed_by": _l("Removed by"), "removal_reason": _l("Reason for removal"),
    }
    column_details_list = ("id", "email", "phone", "channel", "source", "reason", "client_id", "request_id",
                           "created_at", "created_by", "removed_at", "removed_by", "removal_reason")
    column_formatters = {"email": _address, "phone": _address}
    column_formatters_detail = {"email": _address, "phone": _address}
    column_filters = ("channel", "source", "created_at", "removed_at")
    column_choices = {"channel": labels.choices("optout_channel", CHANNELS),
                      "source": labels.choices("optout_source", SOURCES)}
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "created_at", "removed_at")
    # A non-empty list switches the search box on; _apply_search replaces Flask-Admin's ILIKE scan.
    column_searchable_list = ("email_hash",)

    # Pages that change the list or handle recipients' data: writers only, on GET as well as POST.
    _write_pages = {"remove_view", "import_view", "import_status_view", "import_status_json", "scrub_view", "scrub_columns_view", "scrub_progress_view",
                    "scrub_download_view",
                    "export_hashes_view", "export_hashes_download_view"}

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        if name in self._write_pages and not self.may_write:
            abort(403)
        return None

    def search_placeholder(self):
        return _("Exact e-mail or phone")

    def _apply_search(self, query, count_query, joins, count_joins, search):
        term = (search or "").strip()
        condition = optout_service.hash_condition(email=term if "@" in term else None,
                                                  phone=None if "@" in term else term)
        if condition is None:
            condition = false()
        query = query.filter(condition)
        if count_query is not None:
            count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def get_list_row_actions(self):
        actions = super().get_list_row_actions()
        if self.may_write:
            actions.append(EndpointLinkRowAction("fa fa-ban", ".remove_view", title=_l("Remove from the list")))
        return actions

    def create_model(self, form):
        try:
            result = optout_service.add_by_staff(form.email.data, form.phone.data, form.channel.data,
                                                 form.reason.data, by=current_user)
        except optout_service.OptOutError as error:
            flash(str(error), "error")
            return False
        if not result.created:
            flash(_("This address was already on the list for this channel; the entries were merged."), "info")
        return result.entry

    # --- removal ------------------------------------------------------------------------------------------------

    @expose("/remove/", methods=("GET", "POST"))
    def remove_view(self):
        entry = self.get_one(request.args.get("id"))
        if entry is None:
            flash(_("That opt-out does not exist."), "error")
            return redirect(self.get_url(".index_view"))
        form = RemovalForm()
        if form.validate_on_submit():
            try:
                optout_service.remove_opt_out(entry.id, form.reason.data, by=current_user)
            except optout_service.OptOutError as error:
                flash(str(error), "error")
            else:
                flash(_("The opt-out was removed. Marketing consent was not given back by this."), "success")
                return redirect(self.get_url(".index_view"))
        return self.render("admin/optouts/remove.html", entry=entry, form=form,
                           return_url=self.get_url(".index_view"))

    # --- import -------------------------------------------------------------------------------------------------

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self):
        """The upload: what is quick to check is checked here; a job imports, and its page shows the progress."""
        form = CsvUploadForm()
        if form.validate_on_submit():
            try:
                run = optout_import_runs.start(form.file.data, by=current_user)
            except optout_service.OptOutError as error:
                flash(str(error), "error")
            else:
                return redirect(self.get_url(".import_status_view", import_id=run.id))
        return self.render("admin/optouts/import.html", form=form, return_url=self.get_url(".index_view"))

    def _import_or_404(self, import_id):
        run = optout_import_runs.get(import_id)
        if run is None:
            abort(404)
        return run

    @staticmethod
    def _import_live(run):
        data = live_status.import_status(run)
        numbers = {"done": formatting.number(data["phase_done"]), "total": formatting.number(data["phase_total"])}
        data.update(step_label=str(labels.label(run.status, "import_state")),
                    message=str(IMPORT_STEP_MESSAGES.get(run.status, "")) % numbers)
        return data

    @expose("/import/<int:import_id>/")
    def import_status_view(self, import_id):
        """An import's progress (refreshed by static/live_status.js), then its outcome: counts or the rows to fix."""
        run = self._import_or_404(import_id)
        language = str(get_locale())
        problems = [(problem["line"], problem["message"].get(language) or problem["message"].get("en", ""))
                    for problem in run.problems or []]
        return self.render("admin/optouts/import_status.html", run=run, live=self._import_live(run),
                           problems=problems, return_url=self.get_url(".index_view"))

    @expose("/import/<int:import_id>/status.json")
    def import_status_json(self, import_id):
        """The import's step and counts as JSON for its page (no personal data)."""
        run = optout_import_runs.get(import_id)
        if run is None:
            return jsonify({"error": _("That import does not exist.")}), 404
        return jsonify(self._import_live(run))

    # --- campaign scrub -----------------------------------------------------------------------------------------

    @expose("/scrub/", methods=("GET", "POST"))
    def scrub_view(self):
        form = CsvUploadForm()
        if form.validate_on_submit():
            try:
                upload_id = scrub_uploads.store_upload(form.file.data)
            except scrub_service.ScrubError as error:
                flash(str(error), "error")
            else:
                return redirect(self.get_url(".scrub_columns_view", upload_id=upload_id))
        return self.render("admin/optouts/scrub_upload.html", form=form, return_url=self.get_url(".index_view"))

    @expose("/scrub/<upload_id>/", methods=("GET", "POST"))
    def scrub_columns_view(self, upload_id):
        try:
            columns = scrub_uploads.header(upload_id)
        except scrub_service.ScrubError as error:
            flash(str(error), "error")
            return redirect(self.get_url(".scrub_view"))
        form = ScrubColumnsForm()
        choices = [("", _("— none —"))] + [(str(i), title or _("column %(n)d", n=i + 1))
                                            for i, title in enumerate(columns)]
        form.email_column.choices = choices
        form.phone_column.choices = choices
        if request.method == "GET":
            form.email_column.data = next((str(i) for i, t in enumerate(columns) if "mail" in t.lower()), "")
            form.phone_column.data = next((str(i) for i, t in enumerate(columns)
                                           if any(w in t.lower() for w in ("phone", "mobile", "тел"))), "")
        if form.validate_on_submit():
            try:
                scrub_runs.start(upload_id, _column_index(form.email_column.data),
                                 _column_index(form.phone_column.data), form.channel.data, by=current_user)
            except scrub_service.ScrubError as error:
                flash(str(error), "error")
                if not scrub_uploads.input_path(upload_id).exists():
                    return redirect(self.get_url(".scrub_view"))
            else:
                return redirect(self.get_url(".scrub_progress_view", upload_id=upload_id))
        return self.render("admin/optouts/scrub_columns.html", form=form, upload_id=upload_id,
                           return_url=self.get_url(".scrub_view"))

    @expose("/scrub/<upload_id>/progress/")
    def scrub_progress_view(self, upload_id):
        """The scrub job's progress (the page refreshes itself), then the counts and the download link."""
        try:
            run = scrub_runs.state(upload_id)
            if run["state"] == scrub_runs.DONE:
                result = scrub_uploads.summary(upload_id)
        except scrub_service.ScrubError as error:
            flash(str(error), "error")
            return redirect(self.get_url(".scrub_view"))
        if run["state"] == scrub_runs.FAILED:
            flash(_(run.get("error") or "The file is not a readable CSV file."), "error")
            return redirect(self.get_url(".scrub_view"))
        if run["state"] == scrub_runs.DONE:
            return self.render("admin/optouts/scrub_result.html", result=result, upload_id=upload_id,
                               reasons=scrub_service.REASONS, labels=labels.SCRUB_REASONS,
                               return_url=self.get_url(".index_view"))
        return self.render("admin/optouts/scrub_progress.html", run=run, percent=int(run["fraction"] * 100),
                           return_url=self.get_url(".scrub_view"))

    @expose("/scrub/<upload_id>/download/")
    def scrub_download_view(self, upload_id):
        try:
            size, chunks = scrub_uploads.open_download(upload_id)
        except scrub_service.ScrubError as error:
            flash(str(error), "error")
            return redirect(self.get_url(".scrub_view"))
        # The length up front: the browser knows when the file is complete (and says so when it is cut off).
        return Response(chunks, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=campaign-list-scrubbed.csv",
                                 "Content-Length": str(size), "Cache-Control": "no-store"})

    # --- export of hashes ---------------------------------------------------------------------------------------

    @expose("/export-hashes/")
    def export_hashes_view(self):
        return self.render("admin/optouts/export_hashes.html", return_url=self.get_url(".index_view"))

    @expose("/export-hashes/download/")
    def export_hashes_download_view(self):
        chunks = optout_service.start_hash_export(by=current_user)
        return Response(stream_with_context(chunks), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=suppression-list-hashes.csv",
                                 "Cache-Control": "no-store"})
