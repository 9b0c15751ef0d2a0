"""The disclosure register (policy 4.1–4.2): grants with their life cycle, and the log of actual disclosures."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from ..models.disclosures import DATA_CATEGORIES, LEGAL_BASES, RECIPIENT_CATEGORIES
from ..permissions import DISCLOSURES_READ, DISCLOSURES_WRITE
from ..services import disclosures
from ..services.erasure import local_today
from .base import ProtectedView, SecureForm
from .inputs import arg_int, form_date, form_int, form_local_datetime

LABELS = dict(category_labels=disclosures.DATA_CATEGORY_LABELS,
              recipient_labels=disclosures.RECIPIENT_CATEGORY_LABELS,
              basis_labels=disclosures.LEGAL_BASIS_LABELS, end_labels=disclosures.END_KIND_LABELS,
              categories=DATA_CATEGORIES, recipient_categories=RECIPIENT_CATEGORIES, legal_bases=LEGAL_BASES)


class DisclosureRegisterView(ProtectedView):
    roles_read = DISCLOSURES_READ
    roles_write = DISCLOSURES_WRITE

    def _post_ok(self):
        if not self.may_write:
            abort(403)
        if not SecureForm().validate_on_submit():
            flash(_("The form expired; please try again."), "error")
            return False
        return True

    @expose("/")
    def index(self):
        only_active = request.args.get("show") != "all"
        client_id = arg_int("client_id")
        rows = disclosures.register(only_active=only_active, client_id=client_id)
        return self.render("admin/disclosures/list.html", rows=rows, only_active=only_active, client_id=client_id,
                           today=local_today(), log=disclosures.log_entries(client_id=client_id, limit=50), **LABELS)

    @expose("/<int:grant_id>/")
    def details_view(self, grant_id):
        grant = disclosures.read_grant(grant_id)
        if grant is None:
            abort(404)
        return self.render("admin/disclosures/details.html", grant=grant, today=local_today(),
                           log=disclosures.log_entries(grant_id=grant.id), may_write=self.may_write, **LABELS)

    @expose("/new/", methods=("GET", "POST"))
    def new_view(self):
        if not self.may_write:
            abort(403)
        if request.method == "POST" and self._post_ok():
            try:
                grant = disclosures.create_grant(
                    current_user, client_id=form_int("client_id"), recipient=request.form.get("recipient"),
                    recipient_category=request.form.get("recipient_category"),
                    legal_basis=request.form.get("legal_basis"),
                    data_categories=request.form.getlist("data_categories"), starts_on=form_date("starts_on"),
                    expires_on=form_date("expires_on"))
            except disclosures.DisclosureError as error:
                flash(str(error), "error")
            else:
                flash(_("Grant #%(id)s entered in the register.", id=grant.id), "success")
                return redirect(self.get_url(".details_view", grant_id=grant.id))
        return self.render("admin/disclosures/new.html", form=request.form, **LABELS)

    @expose("/<int:grant_id>/revoke/", methods=("POST",))
    def revoke_view(self, grant_id):
        if self._post_ok():
            try:
                disclosures.revoke(grant_id, current_user, request.form.get("kind"), request.form.get("reason"))
            except disclosures.DisclosureError as error:
                flash(str(error), "error")
            else:
                flash(_("The grant was revoked; it no longer counts as active."), "success")
        return redirect(self.get_url(".details_view", grant_id=grant_id))

    @expose("/log/", methods=("GET", "POST"))
    def log_view(self):
        if not self.may_write:
            abort(403)
        grant_id = form_int("grant_id") if request.method == "POST" else arg_int("grant_id")
        if request.method == "POST" and self._post_ok():
            try:
                entry = disclosures.log_disclosure(
                    current_user, client_id=form_int("client_id"), grant_id=grant_id,
                    data_categories=request.form.getlist("data_categories"),
                    disclosed_at=form_local_datetime("disclosed_at"), recipient=request.form.get("recipient"),
                    recipient_category=request.form.get("recipient_category"),
                    law_reference=request.form.get("law_reference"))
            except disclosures.DisclosureError as error:
                flash(str(error), "error")
            else:
                flash(_("Disclosure #%(id)s logged.", id=entry.id), "success")
                return redirect(self.get_url(".index", show="all", client_id=entry.client_id))
        return self.render("admin/disclosures/log.html", form=request.form, grant_id=grant_id, **LABELS)
