"""Staff accounts, for the admin and the CLI: creation, changes, roles, resets (policy 4.3: least privilege).

Rules: nobody changes their own roles or deactivates themselves; a role that reads client data is granted only
with a second admin's approval (ROLE_GRANT_POLICY=second_admin) or never to an admin (=refuse); an admin's password
reset leaves no usable password, only a one-time code that lets the user choose one (and pass their second
factor); every change that reduces or moves access ends the user's sessions. Each function is one user action and
owns its transaction.
"""
import datetime as dt
import re
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models.base import utcnow
from ..models.security import RoleGrant
from ..models.staff import ADMIN, ROLES, StaffUser
from ..permissions import CLIENTS_READ
from . import audit, passwords, second_factor, sessions, throttle

# Staff log-ins are internal addresses; demo accounts live under the special-use .local domain that
# email-validator refuses for real mail, so a plain shape check is used here.
_STAFF_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


def is_valid_staff_email(email):
    return bool(email) and len(email) <= 254 and bool(_STAFF_EMAIL_RE.match(email))


class StaffError(ValueError):
    """A refused staff-account change; the message is translatable."""


hash_password = passwords.hash_password


def find_by_email(email):
    return db.session.execute(
        select(StaffUser).where(func.lower(StaffUser.email) == (email or "").strip().lower())
    ).scalar_one_or_none()


def _check_password(password, email, full_name):
    try:
        passwords.check(password, email, full_name)
    except passwords.PasswordPolicyError as error:
        raise StaffError(str(error)) from None


def _unusable_password():
    # A hash of 32 random bytes nobody ever sees: no password opens the account.
    return passwords.hash_password(secrets.token_urlsafe(32))


def _issue_reset_code(user):
    code = secrets.token_urlsafe(12)
    user.reset_code_hash = passwords.hash_password(code)
    user.reset_code_expires_at = utcnow() + dt.timedelta(hours=current_app.config["RESET_CODE_HOURS"])
    user.password_hash = _unusable_password()
    user.must_change_password = True
    return code


def _needs_second_admin(before, after):
    return bool((set(after) - set(before)) & CLIENTS_READ)


def check_language(language):
    """The account's interface language: one the back-office speaks (LANGUAGES), or none (the browser's)."""
    if not language:
        return None
    if language not in current_app.config["LANGUAGES"]:
        raise StaffError(_l("Choose a language from the list."))
    return language


def _check_roles(roles):
    roles = set(roles or ())
    if not roles or roles - set(ROLES):
        raise StaffError(_l("Choose one or more of the roles: support, manager, supervisor, admin."))
    if current_app.config["ROLE_GRANT_POLICY"] == "refuse" and ADMIN in roles and roles & CLIENTS_READ:
        raise StaffError(_l("An administrator account cannot also hold a role that reads client data."))
    return roles


def create_user(email, password, roles, full_name="", by=None):
    """Create a staff account (caller commits). From the CLI (`by` None) the password is set and roles apply.

    From the admin page (`by` an admin) no password is set: a one-time reset code is returned for the new user,
    and roles that read client data wait for a second admin. Returns the user (and `user.reset_code`).
    """
    email = (email or "").strip().lower()
    if not is_valid_staff_email(email):
        raise StaffError(_l("Enter a valid e-mail address."))
    if find_by_email(email) is not None:
        raise StaffError(_l("A staff account with this e-mail already exists."))
    roles = _check_roles(roles)
    user = StaffUser(email=email, full_name=(full_name or "")[:200])
    immediate = roles
    if by is None:
        _check_password(password, email, full_name)
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
    else:
        user.password_hash = _unusable_password()
        if current_app.config["ROLE_GRANT_POLICY"] == "second_admin":
            immediate = roles - CLIENTS_READ
    user.role_set = immediate
    db.session.add(user)
    db.session.flush()
    user.reset_code = _issue_reset_code(user) if by is not None else None
    grant = _request_grant(user, roles, by) if immediate != roles else None
    details = {"roles": sorted(immediate)}
    if grant is not None:
        details.update(grant_id=grant.id, roles_requested=sorted(roles))
    audit.record("staff.create", object_type="staff_user", object_id=user.id, details=details, actor=by)
    return user


def _request_grant(user, roles_after, by):
    """A pending grant (the caller's audit event names it: one user action, one event)."""
    for old in _pending(user):
        old.status = "superseded"
    grant = RoleGrant(user_id=user.id, roles_after=",".join(sorted(roles_after)), requested_by_id=by.id)
    db.session.add(grant)
    db.session.flush()
    return grant


def _pending(user):
    return db.session.execute(select(RoleGrant).where(RoleGrant.user_id == user.id,
                                                      RoleGrant.status == "pending")).scalars().all()


def pending_grant(user):
    rows = _pending(user)
    return rows[-1] if rows else None


def grants_of(user):
    return db.session.execute(select(RoleGrant).where(RoleGrant.user_id == user.id)
                              .order_by(RoleGrant.id.desc())).scalars().all()


def cli_create(email, password, roles, full_name=""):
    """`flask create-user`: one transaction; the password is set and every role applies at once (no admin yet)."""
    user = create_user(email, password, roles, full_name=full_name)
    db.session.commit()
    return user


def admin_create(by, *, email, full_name, roles, active=True, language=None):
    """The admin page's "create": one transaction; returns the user with its one-time `reset_code`."""
    language = check_language(language)
    user = create_user(email, None, roles, full_name=full_name, by=by)
    user.active = bool(active)
    user.language = language
    db.session.commit()
    return user


def admin_update(user, by, *, email, full_name, roles, active, language=None):
    """The admin page's "save" for another account (or the admin's own, without role or status changes)."""
    email = (email or "").strip().lower()
    if not is_valid_staff_email(email):
        raise StaffError(_l("Enter a valid e-mail address."))
    other = find_by_email(email)
    if other is not None and other.id != user.id:
        raise StaffError(_l("A staff account with this e-mail already exists."))
    roles = _check_roles(roles)
    language = check_language(language)
    before = set(user.role_set)
    if user.id == by.id and (roles != before or not active):
        # Nobody grants themselves a role, and an admin cannot lock themselves out: another admin must act.
        raise StaffError(_l("You cannot change your own roles or deactivate your own account."))
    changed = [name for name, old, new in (("email", user.email, email), ("full_name", user.full_name, full_name),
                                           ("active", user.active, bool(active)),
                                           ("language", user.language, language)) if old != new]
    user.email, user.full_name, user.active = email, (full_name or "")[:200], bool(active)
    user.language = language
    grant = None
    if roles != before:
        if current_app.config["ROLE_GRANT_POLICY"] == "second_admin" and _needs_second_admin(before, roles):
            grant = _request_grant(user, roles, by)
            immediate = before & roles  # removals apply at once; additions wait for approval
        else:
            immediate = roles
            for old in _pending(user):
                old.status = "superseded"
        if immediate != before:
            user.role_set = immediate
            changed.append("roles")
    ended = sessions.end_all(user) if ("roles" in changed or "email" in changed or not user.active) else 0
    audit.record("staff.update", object_type="staff_user", object_id=user.id, actor=by,
                 details={"fields": changed, "roles_before": sorted(before), "roles_after": sorted(user.role_set),
                          "sessions_ended": ended, "grant_id": grant.id if grant else None,
                          "roles_requested": sorted(roles) if grant else None})
    db.session.commit()
    return grant


def decide_grant(user, by, approve):
    """A second admin approves or refuses the pending role grant of `user`."""
    grant = pending_grant(user)
    if grant is None:
        raise StaffError(_l("There is no pending role change for this account."))
    if by.id in (grant.requested_by_id, user.id):
        raise StaffError(_l("Another administrator must decide on this role change."))
    grant.status, grant.decided_by_id, grant.decided_at = ("approved" if approve else "refused"), by.id, utcnow()
    before = set(user.role_set)
    ended = 0
    if approve:
        user.role_set = _check_roles(grant.roles_after.split(","))
        ended = sessions.end_all(user)
    audit.record("staff.role_grant_" + grant.status, object_type="staff_user", object_id=user.id, actor=by,
                 details={"grant_id": grant.id, "roles_before": sorted(before), "roles_after": sorted(user.role_set),
                          "sessions_ended": ended})
    db.session.commit()


def admin_reset_password(user, by):
    """End the user's sessions, leave no usable password, and return a one-time code for the user to choose one.

    The admin never sets or learns a password; where the user has a second factor the code alone opens nothing.
    """
    code = _issue_reset_code(user)
    ended = sessions.end_all(user)
    audit.record("staff.password_reset", object_type="staff_user", object_id=user.id, actor=by,
                 details={"sessions_ended": ended})
    db.session.commit()
    return code


def admin_sign_out_everywhere(user, by):
    ended = sessions.end_all(user)
    audit.record("auth.sessions_ended", object_type="staff_user", object_id=user.id, actor=by,
                 details={"sessions_ended": ended})
    db.session.commit()
    return ended


def admin_unlock(user, by):
    lifted = throttle.unlock(user.email)
    audit.record("auth.unlock", object_type="staff_user", object_id=user.id, actor=by, details={"lifted": lifted})
    db.session.commit()
    return lifted


def admin_reset_second_factor(user, by):
    """Remove the user's TOTP secret and recovery codes: they enrol again at their next sign-in."""
    second_factor.remove(user)
    ended = sessions.end_all(user)
    audit.record("auth.totp_reset", object_type="staff_user", object_id=user.id, actor=by,
                 details={"sessions_ended": ended})
    db.session.commit()


def is_locked(user):
    return throttle.is_locked(user.email)
