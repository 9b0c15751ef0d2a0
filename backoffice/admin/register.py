"""The processing register page and its CSV, PDF and HTML in kk/ru/en; the admin edits the compliance settings
here."""
from flask import abort, flash, make_response, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from ..permissions import COMPLIANCE_SETTINGS_ADMIN, PROCESSING_REGISTER_READ
from ..services import compliance_settings, documents, processing_register
from .base import ProtectedView, SecureForm


class ProcessingRegisterView(ProtectedView):
    roles_read = PROCESSING_REGISTER_READ | COMPLIANCE_SETTINGS_ADMIN
    roles_write = COMPLIANCE_SETTINGS_ADMIN

    @expose("/")
    def index(self):
        settings = {key: compliance_settings.get(key) for key in compliance_settings.DEFAULTS}
        return self.render("admin/register/index.html", rows=processing_register.rows(),
                           headers=processing_register.HEADERS, systems=processing_register.systems(),
                           settings=settings, setting_labels=compliance_settings.LABELS,
                           responsible=processing_register.responsible_person(),
                           languages=documents.languages(), pdf_available=documents.pdf_available())

    @expose("/<fmt>/<lang>/")
    def download_view(self, fmt, lang):
        if lang not in documents.languages() or fmt not in processing_register.FORMATS:
            abort(404)
        if fmt == "pdf" and not documents.pdf_available():
            flash(_("PDF is not available on this server (system libraries missing); download the HTML and print it."),
                  "error")
            return redirect(self.get_url(".index"))
        body, mimetype = processing_register.export(lang, fmt)
        response = make_response(body)
        response.headers["Content-Type"] = mimetype
        response.headers["Content-Disposition"] = f'attachment; filename="processing-register-{lang}.{fmt}"'
        response.headers["Cache-Control"] = "no-store"
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
