"""Notice versions (admin publishes; everyone who records consents reads) and recording a consent outside the
intake (policy 3.2, 4.2)."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models.clients import Client
from ..models.consent import CONSENT_CHANNELS, PURPOSES
from ..permissions import CONSENTS_RECORD, NOTICES_ADMIN, NOTICES_READ, has_any
from ..services import audit, notices
from ..labels import CONSENT_PURPOSES
from .base import ProtectedView, RoleModelView, SecureForm
from .inputs import form_int

CHANNEL_LABELS = {"paper_form": _l("Paper form"), "phone": _l("Phone call"), "in_person": _l("In person"),
                  "email": _l("E-mail"), "booking_site": _l("Booking site")}


class NoticeVersionView(RoleModelView):
    """Published notice versions are never edited: a change is a new version with its effective date."""

    roles_read = NOTICES_READ
    roles_write = NOTICES_ADMIN
    allow_create = True

    column_list = ("version", "effective_on", "created_at")
    column_details_list = ("version", "effective_on", "text_kk", "text_ru", "text_en", "created_at")
    column_labels = {"version": _l("Version"), "effective_on": _l("Effective from"), "text_kk": _l("Text (kk)"),
                     "text_ru": _l("Text (ru)"), "text_en": _l("Text (en)"), "created_at": _l("Created")}
    column_default_sort = ("id", True)
    form_columns = ("version", "effective_on", "text_kk", "text_ru", "text_en")
    form_args = {
        "version": {"validators": [DataRequired(), Length(max=40)]},
        "text_kk": {"validators": [DataRequired(), Length(max=100_000)]},
        "text_ru": {"validators": [DataRequired(), Length(max=100_000)]},
        "text_en": {"validators": [DataRequired(), Length(max=100_000)]},
    }

    def on_model_change(self, form, model, is_created):
        model.created_by_id = current_user.id
        db.session.flush()
        audit.record("notice_version.create", object_type="notice_version", object_id=model.id,
                     details={"effective_on": model.effective_on})


class ConsentRecordView(ProtectedView):
    roles_read = CONSENTS_RECORD
    roles_write = CONSENTS_RECORD

    def is_visible(self):
        return False  # reached from the client page

    @expose("/")
    def index(self):
        return self.render("admin/consents/index.html")

    @expose("/<int:client_id>/", methods=("GET", "POST"))
    def record_view(self, client_id):
        client = db.session.get(Client, client_id)
        if client is None:
            abort(404)
        if request.method == "POST":
            if not SecureForm().validate_on_submit():
                flash(_("The form expired; please try again."), "error")
            else:
                try:
                    notices.record_by_staff(current_user, client_id=client.id, purpose=request.form.get("purpose"),
                                            kind=request.form.get("kind"), channel=request.form.get("channel"),
                                            notice_version_id=form_int("notice_version_id"))
                except notices.NoticeError as error:
                    flash(str(error), "error")
                else:
                    flash(_("Consent recorded."), "success")
                    return redirect(self.get_url("clients.details_view", id=client.id))
        return self.render("admin/consents/record.html", client=client, purposes=PURPOSES,
                           purpose_labels=CONSENT_PURPOSES, channels=CONSENT_CHANNELS, channel_labels=CHANNEL_LABELS,
                           versions=notices.versions(), in_force=notices.in_force())


def may_record_consent():
    return has_any(CONSENTS_RECORD)
