"""Staff users of the back-office and their roles."""
from flask_login import UserMixin

from ..extensions import db
from .base import utcnow

SUPPORT = "support"
MANAGER = "manager"
SUPERVISOR = "supervisor"
ADMIN = "admin"
ROLES = (SUPPORT, MANAGER, SUPERVISOR, ADMIN)


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_user"

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    full_name = db.Column(db.String(200), nullable=False, default="")
    password_hash = db.Column(db.String(255), nullable=False)
    # Sorted, comma-separated subset of ROLES; a user may hold several.
    roles = db.Column(db.String(100), nullable=False, default="")
    active = db.Column(db.Boolean, nullable=False, default=True)
    language = db.Column(db.String(5), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime, nullable=True)

    @property
    def role_set(self):
        return frozenset(r for r in (self.roles or "").split(",") if r)

    @role_set.setter
    def role_set(self, values):
        unknown = set(values) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles: {sorted(unknown)}")
        self.roles = ",".join(sorted(set(values)))

    def has_role(self, *roles):
        return bool(self.role_set.intersection(roles))

    @property
    def is_active(self):
        return bool(self.active)

    def __str__(self):
        return self.full_name or self.email
