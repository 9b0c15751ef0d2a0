"""The base admin views: they own access control, so no subclass repeats it (policy 4.3)."""
from flask import abort, redirect, request, url_for
from flask import has_request_context
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto

from ..auth.roles import has_any


class SecureForm(FlaskForm):
    """Flask-Admin's forms carry the Flask-WTF CSRF token (Flask-Admin's own default has none)."""

    def __init__(self, formdata=_Auto, obj=None, prefix="", **kwargs):
        # Flask-Admin's Unique validator compares against form._obj, which its own BaseForm sets.
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)


def _deny():
    if not getattr(current_user, "is_authenticated", False):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


class RoleMixin:
    """Declare `roles_read` and `roles_write`; access and menu follow from them on every request."""

    roles_read = frozenset()
    roles_write = frozenset()

    def is_accessible(self):
        return has_any(set(self.roles_read) | set(self.roles_write))

    def inaccessible_callback(self, name, **kwargs):
        return _deny()

    @property
    def may_write(self):
        return has_request_context() and has_any(self.roles_write)


class ProtectedView(RoleMixin, BaseView):
    """A custom (non-model) admin page behind the same role check."""


class ProtectedIndexView(RoleMixin, AdminIndexView):
    """The home page: every signed-in staff member may open it (Flask-Admin's is open by default)."""

    def is_accessible(self):
        return getattr(current_user, "is_authenticated", False)


class RoleModelView(RoleMixin, ModelView):
    """A model view whose create/edit/delete rights are computed per request from the user's roles.

    Subclasses switch capabilities on with `allow_create`, `allow_edit`, `allow_delete`; they are granted
    only to `roles_write`. Actions declare their roles in `action_roles`, checked on the server.
    """

    form_base_class = SecureForm
    allow_create = False
    allow_edit = False
    allow_delete = False
    allow_details = True
    action_roles = {}
    can_export = False
    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)

    @property
    def can_create(self):
        return self.allow_create and self.may_write

    @property
    def can_edit(self):
        return self.allow_edit and self.may_write

    @property
    def can_delete(self):
        return self.allow_delete and self.may_write

    @property
    def can_view_details(self):
        return self.allow_details

    # Flask-Admin quietly redirects when a capability is off; we answer 403 so that the server, not the
    # hidden button, is what enforces the matrix.
    _capability_of_method = {
        "create_view": "can_create", "edit_view": "can_edit", "delete_view": "can_delete",
        "ajax_update": "can_edit", "export": "can_export", "details_view": "can_view_details",
    }

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        capability = self._capability_of_method.get(name)
        if capability is not None and not getattr(self, capability):
            abort(403)
        if name == "action_view" and request.method == "POST":
            action = request.form.get("action", "")
            if action not in dict(self._actions or []) or not self.is_action_allowed(action):
                abort(403)
        return None

    def is_action_allowed(self, name):
        if name == "delete":
            return self.can_delete
        roles = self.action_roles.get(name)
        return roles is not None and has_any(roles) and super().is_action_allowed(name)

    def get_one(self, id):
        # get_one uses session.get, which bypasses get_query: keep row-level limits in one place.
        try:
            key = int(id)
        except (TypeError, ValueError):
            return None
        return self.get_query().filter(self.model.id == key).one_or_none()
