"""Staff accounts and roles, for the admin only (policy 4.3: access is granted deliberately and audited)."""
from flask import g, session
from flask_admin.babel import gettext as admin_gettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, PasswordInput

from .. import labels
from ..permissions import STAFF_ADMIN
from ..extensions import db
from ..models.staff import ROLES
from ..services import audit, staff as staff_service
from .base import RoleModelView

ROLE_LABELS = labels.ROLES


LANGUAGE_CHOICES = labels.choices("language", ("kk", "ru", "en"))


def role_label(code):
    return ROLE_LABELS.get(code, code)


def _check_unique_email(form, field):
    existing = staff_service.find_by_email((field.data or "").strip())
    if existing is not None and existing is not getattr(form, "_obj", None):
        raise ValidationError(_l("A staff account with this e-mail already exists."))


class StaffUserView(RoleModelView):
    roles_read = STAFF_ADMIN
    roles_write = STAFF_ADMIN
    allow_create = True
    allow_edit = True

    column_list = ("id", "email", "full_name", "roles", "active", "last_login_at")
    column_labels = {
        "id": _l("ID"), "email": _l("E-mail"), "full_name": _l("Full name"), "roles": _l("Roles"),
        "active": _l("Active"), "last_login_at": _l("Last sign-in"), "language": _l("Language"),
    }
    column_formatters = {"roles": lambda v, c, m, n: labels.label(m.roles, "roles")}
    column_default_sort = ("id", False)
    form_columns = ("email", "full_name", "active", "language", "role_list", "new_password")
    form_extra_fields = {
        "role_list": SelectMultipleField(_l("Roles"), choices=labels.choices("role", ROLES),
                                         validators=[DataRequired()], widget=ListWidget(prefix_label=False),
                                         option_widget=CheckboxInput()),
        # Kept in the form when another field is wrong, so the admin does not type it twice (issue 14).
        "new_password": PasswordField(_l("New password"), validators=[Optional(), Length(min=10, max=200)],
                                      widget=PasswordInput(hide_value=False)),
    }
    form_args = {
        "email": {"validators": [DataRequired(), Length(max=254)]},
        "full_name": {"validators": [Length(max=200)]},
        "language": {"validators": [Optional()]},
    }
    form_choices = {"language": LANGUAGE_CHOICES}

    def _check_email(form, field):
        if not staff_service.is_valid_staff_email((field.data or "").strip()):
            raise ValidationError(_l("Enter a valid e-mail address."))

    form_args["email"]["validators"].extend([_check_email, _check_unique_email])

    def validate_form(self, form):
        valid = super().validate_form(form)
        if not valid:
            g._staff_form_errors = [str(field.label.text) for field in form if field.errors]
        return valid

    def render(self, template, **kwargs):
        # Flask-Admin flashes its bare message just before rendering the form again: name the fields instead.
        _explain_failure()
        return super().render(template, **kwargs)

    def on_form_prefill(self, form, id):
        user = self.get_one(id)
        form.role_list.data = sorted(user.role_set) if user else []

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.new_password.validators = [Length(min=10, max=200)]
        return form

    def on_model_change(self, form, model, is_created):
        if not form.role_list.data:
            raise ValueError(_("Choose at least one role."))
        before = set(model.role_set) if not is_created else set()
        if not is_created and model.id == current_user.id and (
                "admin" not in form.role_list.data or not form.active.data):
            # An admin cannot lock themselves out; another admin must do it.
            raise ValueError(_("You cannot remove your own admin role or deactivate your own account."))
        model.role_set = set(form.role_list.data)
        model.email = (model.email or "").strip().lower()
        if form.new_password.data:
            model.password_hash = staff_service.hash_password(form.new_password.data)
        elif is_created:
            raise ValueError(_("Set a password for the new account."))
        db.session.flush()  # Flask-Admin 2 hands views `db`, not a session
        audit.record("staff.create" if is_created else "staff.update", object_type="staff_user",
                     object_id=model.id,
                     details={"roles_before": sorted(before), "roles_after": sorted(model.role_set),
                              "password_changed": bool(form.new_password.data)})


def _explain_failure():
    """Replace Flask-Admin's bare "Failed to create record." by which fields need correcting."""
    fields = g.get("_staff_form_errors")
    flashes = session.get("_flashes")
    if not fields or not flashes:
        return
    generic = admin_gettext("Failed to create record.")
    message = _("The account was not created. Correct: %(fields)s.", fields=", ".join(fields))
    session["_flashes"] = [(category, message if text == generic else text) for category, text in flashes]
