"""The processing register page and its CSV in kk/ru/en; the admin edits the compliance settings here."""
from flask import abort, flash, make_response, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from ..permissions import COMPLIANCE_SETTINGS_ADMIN, PROCESSING_REGISTER_READ
from ..services import compliance_settings, processing_register
from .base import ProtectedView, SecureForm

CSV_LANGUAGES = ("kk", "ru", "en")


class ProcessingRegisterView(ProtectedView):
    roles_read = PROCESSING_REGISTER_READ | COMPLIANCE_SETTINGS_ADMIN
    roles_write = COMPLIANCE_SETTINGS_ADMIN

    @expose("/")
    def index(self):
        settings = {key: compliance_settings.get(key) for key in compliance_settings.DEFAULTS}
        return self.render("admin/register/index.html", rows=processing_register.rows(),
                           headers=processing_register.HEADERS, settings=settings,
                           setting_labels=compliance_settings.LABELS,
                           responsible=processing_register.responsible_person(), languages=CSV_LANGUAGES)

    @expose("/csv/<lang>/")
    def csv_view(self, lang):
        if lang not in CSV_LANGUAGES:
            abort(404)
        response = make_response(processing_register.export_csv(lang))
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="processing-register-{lang}.csv"'
        return response

    @expose("/settings/", methods=("POST",))
    def settings_view(self):
        if not self.may_write:
            abort(403)
        if SecureForm().validate_on_submit():
            values = {key: request.form.get(key, "") for key in compliance_settings.DEFAULTS}
            try:
                compliance_settings.save(values, current_user)
            except compliance_settings.SettingError as error:
                flash(str(error), "error")
            else:
                flash(_("Settings saved."), "success")
        return redirect(self.get_url(".index"))
