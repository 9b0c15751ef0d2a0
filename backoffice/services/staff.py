"""Staff accounts: creation, password hashing, authentication, role changes (admin only)."""
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from ..extensions import db
from ..models.base import utcnow
from ..models.staff import ROLES, StaffUser
from . import audit

_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown keeps the response time the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 10
# Staff log-ins are internal addresses; demo accounts live under the special-use .local domain that
# email-validator refuses for real mail, so a plain shape check is used here.
_STAFF_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


def is_valid_staff_email(email):
    return bool(email) and len(email) <= 254 and bool(_STAFF_EMAIL_RE.match(email))


class StaffError(ValueError):
    """A refused staff-account change; the message is translatable."""


def hash_password(password):
    return _hasher.hash(password)


def find_by_email(email):
    return db.session.execute(
        select(StaffUser).where(func.lower(StaffUser.email) == (email or "").strip().lower())
    ).scalar_one_or_none()


def authenticate(email, password):
    """Return the active staff user for these credentials and audit the attempt, or None."""
    user = find_by_email(email)
    ok = False
    try:
        if user is None:
            _hasher.verify(_DUMMY_HASH, password or "")
        else:
            ok = _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and not user.is_active:
        ok = False
    if ok:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("auth.login", object_type="staff_user", object_id=user.id, actor=user)
    else:
        # The typed e-mail is personal data: only the id of a known account is logged.
        audit.record("auth.login_failed", object_type="staff_user", object_id=user.id if user else None,
                     outcome="failure")
    db.session.commit()
    return user if ok else None


def create_user(email, password, roles, full_name="", by=None):
    """Create a staff account with the given roles; refuse duplicates, unknown roles and weak passwords."""
    from flask_babel import lazy_gettext as _l

    email = (email or "").strip().lower()
    if not is_valid_staff_email(email):
        raise StaffError(_l("Enter a valid e-mail address."))
    if find_by_email(email) is not None:
        raise StaffError(_l("A staff account with this e-mail already exists."))
    roles = set(roles)
    if not roles or roles - set(ROLES):
        raise StaffError(_l("Choose one or more of the roles: support, manager, supervisor, admin."))
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise StaffError(_l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    user = StaffUser(email=email, full_name=full_name or "", password_hash=hash_password(password))
    user.role_set = roles
    db.session.add(user)
    db.session.flush()
    audit.record("staff.create", object_type="staff_user", object_id=user.id,
                 details={"roles": sorted(roles)}, actor=by)
    return user
