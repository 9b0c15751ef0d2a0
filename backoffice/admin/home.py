"""The home page: the signed-in staff member's queue."""
from flask_admin import expose
from flask_login import current_user

from ..services import requests as request_service
from .base import ProtectedIndexView


class HomeView(ProtectedIndexView):
    @expose("/")
    def index(self):
        queue = request_service.my_queue(current_user) if current_user.has_role("support", "manager") else []
        return self.render("admin/home.html", queue=queue)
