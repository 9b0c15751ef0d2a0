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
    # Set by an admin's reset (and for new accounts): every page leads to "choose a new password" until done.
    must_change_password = db.Column(db.Boolean, nullable=False, default=False)
    password_changed_at = db.Column(db.DateTime, nullable=True)
    # An admin's reset leaves no usable password: only this one-time code (argon2 hash) lets the user choose one.
    reset_code_hash = db.Column(db.String(255), nullable=True)
    reset_code_expires_at = db.Column(db.DateTime, nullable=True)
    # TOTP second factor (RFC 6238). The secret must be readable to check codes; the database is the vault.
    totp_secret = db.Column(db.String(64), nullable=True)
    # The last accepted 30-second step: a code is never accepted twice (pyotp has no replay protection).
    totp_last_step = db.Column(db.BigInteger, nullable=True)

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
