"""The breach register pages (policy 4.3): support reports an incident; managers and supervisors run it."""
from flask import abort, flash, make_response, redirect, request
from flask_admin import expose
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..models.breaches import SELECTIONS
from ..models.disclosures import DATA_CATEGORIES
from ..permissions import BREACH_SUBJECTS_NOTIFY, BREACHES_MANAGE, BREACHES_REPORT, has_any
from ..services import breach_notice, breach_subjects, breaches, datamap
from ..services.disclosures import DATA_CATEGORY_LABELS
from .base import ProtectedView, SecureForm
from .formatting import local_time
from .inputs import form_date, form_int, form_local_datetime


def _flash_errors(error):
    for message in error.errors.values():
        flash(str(message), "error")


def _incident_fields():
    count = request.form.get("estimated_count", "").strip()
    return dict(discovered_at=form_local_datetime("discovered_at"), discovered_by=request.form.get("discovered_by"),
                description=request.form.get("description"),
                data_categories=request.form.getlist("data_categories"), systems=request.form.getlist("systems"),
                estimated_count=form_int("estimated_count") if count else None)


def _valid_post():
    if not SecureForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return False
    return True


class BreachReportView(ProtectedView):
    """Report a breach: the one page of the register open to support."""

    roles_read = BREACHES_REPORT
    roles_write = BREACHES_REPORT

    @expose("/", methods=("GET", "POST"))
    def index(self):
        if request.method == "POST" and _valid_post():
            try:
                incident = breaches.report(current_user, **_incident_fields())
            except breaches.BreachError as error:
                _flash_errors(error)
            else:
                flash(_("Breach #%(id)s reported. The notice to the authorised body is due by %(due)s (Almaty).",
                        id=incident.id, due=local_time(incident.notice_due_at)), "success")
                if has_any(BREACHES_MANAGE):
                    return redirect(self.get_url("breaches.details_view", incident_id=incident.id))
                return redirect(self.get_url(".index"))
        return self.render("admin/breaches/report.html", categories=DATA_CATEGORIES,
                           systems=breaches.system_choices(), category_labels=DATA_CATEGORY_LABELS,
                           form=request.form)



class BreachView(ProtectedView):
    roles_read = BREACHES_MANAGE
    roles_write = BREACHES_MANAGE

    @expose("/")
    def index(self):
        return self.render("admin/breaches/list.html", incidents=breaches.incidents(),
                           status_labels=breaches.STATUS_LABELS)

    def _incident_or_404(self, incident_id, read=False):
        incident = breaches.read(incident_id) if read else breaches.get(incident_id)
        if incident is None:
            abort(404)
        return incident

    @expose("/<int:incident_id>/")
    def details_view(self, incident_id):
        incident = self._incident_or_404(incident_id, read=True)
        return self.render("admin/breaches/details.html", incident=incident, counts=breaches.affected_counts(incident.id),
                           pending=breaches.affected(incident.id, only_pending=True, limit=200),
                           status_labels=breaches.STATUS_LABELS, categories=DATA_CATEGORIES,
                           systems=breaches.system_choices(incident), data_map=datamap.all_systems(),
                           category_labels=DATA_CATEGORY_LABELS, selections=SELECTIONS,
                           may_notify=has_any(BREACH_SUBJECTS_NOTIFY))

    def _act(self, incident_id, action, success):
        self._incident_or_404(incident_id)
        if request.method == "POST" and _valid_post():
            try:
                result = action()
            except breaches.BreachError as error:
                _flash_errors(error)
            else:
                flash(success(result) if callable(success) else success, "success")
        return redirect(self.get_url(".details_view", incident_id=incident_id))

    @expose("/<int:incident_id>/edit/", methods=("POST",))
    def update_view(self, incident_id):
        return self._act(incident_id, lambda: breaches.edit(incident_id, current_user, version=form_int("version"),
                                                             **_incident_fields()), _("Incident updated."))

    @expose("/<int:incident_id>/step/", methods=("POST",))
    def step_view(self, incident_id):
        return self._act(incident_id, lambda: breaches.add_step(incident_id, current_user, request.form.get("text"),
                                                                version=form_int("version")),
                         _("Containment step recorded."))

    @expose("/<int:incident_id>/affected/", methods=("POST",))
    def affected_view(self, incident_id):
        upload = request.files.get("ids_file")
        ids_text = request.form.get("ids_text") or ""
        if upload is not None and upload.filename:
            ids_text = upload.read(2_000_001).decode("utf-8-sig", errors="replace")
        return self._act(incident_id, lambda: breaches.add_affected(
            incident_id, current_user, selection=request.form.get("selection"), origin=request.form.get("origin"),
            destination=request.form.get("destination"), date_from=form_date("date_from"),
            date_to=form_date("date_to"), ids_text=ids_text, system=request.form.get("system"),
            version=form_int("version")),
            lambda added: ngettext("%(count)s client added to the affected list.",
                                   "%(count)s clients added to the affected list.", added, count=format_number(added)))

    @expose("/<int:incident_id>/notice/", methods=("POST",))
    def notice_view(self, incident_id):
        return self._act(incident_id, lambda: breaches.record_notice_sent(
            incident_id, current_user, form_date("sent_on"), request.form.get("reference"),
            request.form.get("contact"), version=form_int("version")),
            _("The notice to the authorised body is recorded as sent."))

    @expose("/<int:incident_id>/close/", methods=("POST",))
    def close_view(self, incident_id):
        return self._act(incident_id, lambda: breaches.close(incident_id, current_user, version=form_int("version")),
                         _("Incident closed."))

    @expose("/<int:incident_id>/notified/", methods=("POST",))
    def notified_view(self, incident_id):
        if request.form.get("scope") == "all":
            ids = "all"
        else:
            ids = [int(v) for v in request.form.getlist("client_id") if v.isdigit() and len(v) < 12]
        return self._act(incident_id, lambda: breaches.record_subjects_notified(
            incident_id, current_user, ids, request.form.get("channel")),
            lambda told: ngettext("%(count)s client recorded as told.", "%(count)s clients recorded as told.", told,
                                  count=format_number(told)))

    @expose("/<int:incident_id>/notify/", methods=("GET", "POST"))
    def notify_view(self, incident_id):
        """Notify affected clients (policy 4.3): a confirmation page, then one notice per client via the outbox."""
        if not has_any(BREACH_SUBJECTS_NOTIFY):
            abort(403)
        if request.method == "POST" and request.form.get("confirmed") == "1":
            self._incident_or_404(incident_id)
            version = form_int("version")
            if version is None:
                flash(_("Someone else changed this incident; reload the page."), "error")
            elif _valid_post():
                try:
                    queued = breach_subjects.notify_affected(incident_id, current_user, version=version)
                except breaches.BreachError as error:
                    _flash_errors(error)
                else:
                    queued_count = sum(queued.values())
                    flash(ngettext("%(count)s notice put in the letter outbox; the client is recorded as told when the "
                                   "letter is sent.",
                                   "%(count)s notices put in the letter outbox; each client is recorded as told when "
                                   "their letter is sent.", queued_count, count=format_number(queued_count)), "success")
                    return redirect(self.get_url(".details_view", incident_id=incident_id))
        plan = breach_subjects.plan(incident_id)
        if plan is None:
            abort(404)
        return self.render("admin/breaches/notify.html", plan=plan, incident=plan["incident"])

    @expose("/<int:incident_id>/draft/<lang>/")
    def draft_view(self, incident_id, lang):
        incident = self._incident_or_404(incident_id)
        if lang not in breach_notice.LANGUAGES:
            abort(404)
        response = make_response(breach_notice.draft(incident, lang))
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="breach-{incident.id}-notice-{lang}.txt"'
        response.headers["Cache-Control"] = "no-store"
        return response
