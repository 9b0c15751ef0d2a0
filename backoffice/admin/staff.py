"""Staff accounts and roles, for the admin only (policy 4.3: access is granted deliberately and audited).

The view renders and maps each button to one call of services/staff.py, which owns the rules and the commit.
"""
from flask import abort, current_app, flash, g, redirect, request, session
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import SelectField, SelectMultipleField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import labels
from ..models.staff import ROLES
from ..permissions import STAFF_ADMIN
from ..services import second_factor
from ..services import staff as staff_service
from .base import RoleModelView

ACCOUNT_ACTIONS = ("reset_password", "sign_out_everywhere", "unlock", "reset_second_factor", "approve_grant",
                   "refuse_grant")


def _sign_in_state(view, context, model, name):
    notes = []
    if staff_service.is_locked(model):
        notes.append(_("locked"))
    if second_factor.enrolled(model):
        notes.append(_("second factor"))
    if model.must_change_password:
        notes.append(_("must choose a password"))
    grant = staff_service.pending_grant(model)
    if grant is not None:
        notes.append(_("role change waiting for a second admin: %(roles)s", roles=grant.roles_after))
    return Markup("<br>").join(escape(note) for note in notes)


ROLE_LABELS = labels.ROLES


LANGUAGE_CHOICES = [("", _l("The browser's language"))] + labels.choices("language", ("kk", "ru", "en"))


def role_label(code):
    return ROLE_LABELS.get(code, code)


# Messages are translated when the form is checked (gettext, not lazy_gettext): Flask-Admin shows a field's error
# under the field only when it is a plain string.

def _at_least_one_role(form, field):
    if not field.data:
        raise ValidationError(_("Choose at least one role."))


def _check_email(form, field):
    if not staff_service.is_valid_staff_email((field.data or "").strip()):
        raise ValidationError(_("Enter a valid e-mail address."))


def _check_unique_email(form, field):
    existing = staff_service.find_by_email((field.data or "").strip())
    if existing is not None and existing is not getattr(form, "_obj", None):
        raise ValidationError(_("A staff account with this e-mail already exists."))


def _check_language(form, field):
    try:
        staff_service.check_language(field.data)
    except staff_service.StaffError as error:
        raise ValidationError(str(error)) from None


class StaffUserView(RoleModelView):
    roles_read = STAFF_ADMIN
    roles_write = STAFF_ADMIN
    allow_create = True
    allow_edit = True
    details_template = "admin/staff_details.html"

    column_list = ("id", "email", "full_name", "roles", "active", "last_login_at", "sign_in")
    column_details_list = ("id", "email", "full_name", "roles", "active", "language", "created_at",
                           "last_login_at", "password_changed_at", "sign_in")
    column_labels = {
        "id": _l("ID"), "email": _l("E-mail"), "full_name": _l("Full name"), "roles": _l("Roles"),
        "active": _l("Active"), "last_login_at": _l("Last sign-in"), "language": _l("Language"),
        "sign_in": _l("Sign-in"), "created_at": _l("Created"), "password_changed_at": _l("Password changed"),
    }
    column_formatters = {"roles": lambda v, c, m, n: labels.label(m.roles, "roles"), "sign_in": _sign_in_state}
    column_default_sort = ("id", False)
    form_columns = ("email", "full_name", "active", "language", "role_list")
    form_extra_fields = {
        # Checked on the server, not with `required`: on checkboxes the browser would demand every one of them.
        "role_list": SelectMultipleField(_l("Roles"), choices=labels.choices("role", ROLES),
                                         validators=[_at_least_one_role], widget=ListWidget(prefix_label=False),
                                         option_widget=CheckboxInput()),
    }
    # The language is checked by services/staff.check_language (a specific message), not by the select itself.
    form_overrides = {"language": SelectField}
    form_args = {
        "email": {"validators": [DataRequired(), Length(max=254), _check_email, _check_unique_email]},
        "full_name": {"validators": [Length(max=200)]},
        "language": {"choices": LANGUAGE_CHOICES, "validate_choice": False, "validators": [_check_language]},
    }

    def validate_form(self, form):
        valid = super().validate_form(form)
        if not valid:
            problems = []
            for field in form:
                if field.errors:
                    reasons = " ".join(str(error) for error in field.errors)
                    problems.append(reasons if field.name == "csrf_token" else
                                    _("%(field)s: %(reason)s", field=str(field.label.text), reason=reasons))
            g._staff_form_errors = problems
        return valid

    def render(self, template, **kwargs):
        # Flask-Admin flashes its bare message just before rendering the form again: name the fields instead.
        _explain_failure()
        return super().render(template, **kwargs)

    def on_form_prefill(self, form, id):
        if request.method != "GET":
            return  # the form is shown again after an error: keep what the admin chose
        user = self.get_one(id)
        form.role_list.data = sorted(user.role_set) if user else []

    def _fields(self, form):
        return {"email": form.email.data, "full_name": form.full_name.data or "", "roles": set(form.role_list.data),
                "active": bool(form.active.data), "language": form.language.data or None}

    def create_model(self, form):
        try:
            user = staff_service.admin_create(current_user, **self._fields(form))
        except staff_service.StaffError as error:
            flash(str(error), "error")
            return False
        flash(_("Account created. Give this one-time code to %(email)s in person: they sign in with it once and "
                "choose their own password (valid %(hours)d hours): %(code)s", email=user.email,
                hours=self._reset_hours(), code=user.reset_code), "warning")
        if staff_service.pending_grant(user) is not None:
            flash(_("Roles that read client data wait for a second administrator's approval."), "info")
        return user

    def update_model(self, form, model):
        try:
            grant = staff_service.admin_update(model, current_user, **self._fields(form))
        except staff_service.StaffError as error:
            flash(str(error), "error")
            return False
        if grant is not None:
            flash(_("Roles that read client data wait for a second administrator's approval."), "info")
        return True

    @staticmethod
    def _reset_hours():
        return current_app.config["RESET_CODE_HOURS"]

    @expose("/account-action/", methods=("POST",))
    def account_action_view(self):
        """One button of the details page: reset password, sign out everywhere, unlock, reset 2FA, decide a grant."""
        if not self.may_write:
            abort(403)
        user = self.get_one(request.form.get("id"))
        action = request.form.get("op")
        if user is None or action not in ACCOUNT_ACTIONS:
            abort(400, _("Choose an account and an action."))
        try:
            if action == "reset_password":
                code = staff_service.admin_reset_password(user, current_user)
                flash(_("Password reset; all of the account's sessions ended. Give this one-time code to the user in "
                        "person: they sign in with it once and choose a new password (valid %(hours)d hours): "
                        "%(code)s", hours=self._reset_hours(), code=code), "warning")
            elif action == "sign_out_everywhere":
                ended = staff_service.admin_sign_out_everywhere(user, current_user)
                flash(_("Sessions signed out: %(n)d.", n=ended), "success")
            elif action == "unlock":
                staff_service.admin_unlock(user, current_user)
                flash(_("Sign-in unlocked."), "success")
            elif action == "reset_second_factor":
                staff_service.admin_reset_second_factor(user, current_user)
                flash(_("Second factor removed: the user sets it up again at the next sign-in."), "success")
            else:
                staff_service.decide_grant(user, current_user, approve=action == "approve_grant")
                flash(_("Role change approved.") if action == "approve_grant" else _("Role change refused."),
                      "success")
        except staff_service.StaffError as error:
            flash(str(error), "error")
        return redirect(self.get_url(".details_view", id=user.id))

    def grants(self, user):
        return staff_service.grants_of(user)


def _explain_failure():
    """Replace Flask-Admin's bare "Failed to create record." / "Failed to save record." by each field and why."""
    problems = g.get("_staff_form_errors")
    flashes = session.get("_flashes")
    if not problems or not flashes:
        return
    listed = "; ".join(problems)
    replace = {admin_gettext("Failed to create record."): _("The account was not created. %(problems)s", problems=listed),
               admin_gettext("Failed to save record."): _("The changes were not saved. %(problems)s", problems=listed)}
    session["_flashes"] = [(category, replace.get(text, text)) for category, text in flashes]
