"""Integration tokens for the intake API, for the admin only (policy 4.3: access granted deliberately, audited)."""
from flask import flash, make_response, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..permissions import STAFF_ADMIN
from ..services import integrations as integration_service
from .base import RoleModelView, SecureForm


class NewTokenForm(SecureForm):
    name = StringField(_l("Integration name"), validators=[DataRequired(), Length(max=100)])


class IntegrationTokenView(RoleModelView):
    roles_read = STAFF_ADMIN
    roles_write = STAFF_ADMIN
    list_template = "admin/integrations/list.html"

    column_list = ("id", "name", "token_prefix", "created_at", "last_used_at", "revoked_at")
    column_labels = {
        "id": _l("ID"), "name": _l("Integration"), "token_prefix": _l("Token starts with"),
        "created_at": _l("Created"), "last_used_at": _l("Last used"), "revoked_at": _l("Revoked"),
    }
    column_details_list = column_list
    column_default_sort = ("id", True)

    @expose("/issue/", methods=("GET", "POST"))
    def new_token_view(self):
        form = NewTokenForm()
        if form.validate_on_submit():
            try:
                row, token = integration_service.create_token(form.name.data, by=current_user)
            except integration_service.TokenError as error:
                flash(str(error), "error")
            else:
                # Rendered, never flashed or redirected: the token must not sit in the session cookie or a URL.
                response = make_response(self.render("admin/integrations/created.html", row=row, token=token,
                                                          return_url=self.get_url(".index_view")))
                response.headers["Cache-Control"] = "no-store"
                return response
        return self.render("admin/integrations/new.html", form=form, return_url=self.get_url(".index_view"))

    @expose("/revoke/", methods=("POST",))
    def revoke_view(self):
        form = SecureForm()
        if form.validate_on_submit():
            try:
                integration_service.revoke_token(request.form.get("id", type=int), by=current_user)
                flash(_("The token was revoked; the integration can no longer call the API with it."), "success")
            except integration_service.TokenError as error:
                flash(str(error), "error")
        return redirect(self.get_url(".index_view"))
