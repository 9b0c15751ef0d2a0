"""Staff accounts and roles, for the admin only (policy 4.3: access is granted deliberately and audited)."""
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..permissions import STAFF_ADMIN
from ..extensions import db
from ..models.staff import ROLES
from ..services import audit, staff as staff_service
from .base import RoleModelView

ROLE_LABELS = {"support": _l("Support"), "manager": _l("Manager"), "supervisor": _l("Supervisor"),
               "admin": _l("Administrator")}


def role_label(code):
    return ROLE_LABELS.get(code, code)


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
    column_default_sort = ("id", False)
    form_columns = ("email", "full_name", "active", "language", "role_list", "new_password")
    form_extra_fields = {
        "role_list": SelectMultipleField(_l("Roles"), choices=[(r, r) for r in ROLES], validators=[DataRequired()]),
        "new_password": PasswordField(_l("New password"), validators=[Optional(), Length(min=10, max=200)]),
    }
    form_args = {
        "email": {"validators": [DataRequired(), Length(max=254)]},
        "full_name": {"validators": [Length(max=200)]},
        "language": {"validators": [Optional(), Length(max=5)]},
    }

    def _check_email(form, field):
        if not staff_service.is_valid_staff_email((field.data or "").strip()):
            raise ValidationError(_l("Enter a valid e-mail address."))

    form_args["email"]["validators"].append(_check_email)

    def on_form_prefill(self, form, id):
        user = self.get_one(id)
        form.role_list.data = sorted(user.role_set) if user else []

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.new_password.validators = [Length(min=10, max=200)]
        return form

    def on_model_change(self, form, model, is_created):
        from flask_babel import gettext as _

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
