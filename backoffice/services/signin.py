"""Signing in and out, the second factor, and a user's own password and sessions (policy 4.3; ASVS 2, 3).

Sign-in has two steps: the password (throttled per account and per IP address, see throttle.py), then the TOTP
code or a recovery code for users who hold one or whose role requires one (second_factor.py). Only after both
does a server-side session start (sessions.py).
"""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models.base import utcnow
from ..models.staff import StaffUser
from . import audit, passwords, second_factor, sessions, throttle
from .staff import StaffError, find_by_email

OK, FAILED, THROTTLED, LOCKED = "ok", "failed", "throttled", "locked"


@dataclass
class PasswordStep:
    outcome: str
    user: StaffUser | None = None
    retry_after: int = 0


def check_password(email, password, ip):
    """The first step: one outcome for every unknown e-mail, wrong password or inactive account."""
    verdict = throttle.check(email, ip)
    if not verdict.allowed:
        # Refused before the password is even checked, so a locked account cannot be probed.
        audit.record("auth.login_throttled", object_type="staff_user", outcome="denied",
                     details={"locked": verdict.locked})
        db.session.commit()
        return PasswordStep(LOCKED if verdict.locked else THROTTLED, retry_after=verdict.retry_after)
    user = find_by_email(email)
    ok = passwords.verify(user.password_hash if user else None, password)
    used_reset_code = False
    if user is not None and not ok and user.reset_code_hash and user.reset_code_expires_at \
            and user.reset_code_expires_at > utcnow():
        ok = used_reset_code = passwords.verify(user.reset_code_hash, password)
    if ok and not user.is_active:
        ok = False
    if not ok:
        locked = throttle.record_failure(email, ip)
        # The typed e-mail is personal data: only the id of a known account is logged.
        audit.record("auth.login_failed", object_type="staff_user", object_id=user.id if user else None,
                     outcome="failure", details={"locked_now": True} if locked else None)
        db.session.commit()
        return PasswordStep(FAILED)
    if used_reset_code:
        user.reset_code_hash = user.reset_code_expires_at = None
        user.must_change_password = True
    elif passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    throttle.record_success(email)
    if used_reset_code:
        audit.record("auth.reset_code_used", object_type="staff_user", object_id=user.id, actor=user)
    # A passed password step alone is not a sign-in: "auth.login" is recorded when the session starts.
    db.session.commit()
    return PasswordStep(OK, user=user)


def needs_second_factor(user):
    return second_factor.enrolled(user) or second_factor.required_for(user)


def check_second_factor(user, code, ip):
    """The second step for an enrolled user: a TOTP code or a recovery code, counted like a wrong password."""
    verdict = throttle.check(user.email, ip)
    if not verdict.allowed:
        db.session.rollback()
        return PasswordStep(LOCKED if verdict.locked else THROTTLED, retry_after=verdict.retry_after)
    if second_factor.verify(user, code):
        db.session.commit()
        return PasswordStep(OK, user=user)
    throttle.record_failure(user.email, ip)
    audit.record("auth.totp_failed", object_type="staff_user", object_id=user.id, actor=user, outcome="failure")
    db.session.commit()
    return PasswordStep(FAILED)


def enrol_second_factor(user, secret, code):
    """Confirm enrolment with a first code; returns the recovery codes to show once, or None for a wrong code."""
    step = second_factor.check_code(secret, code)
    if step is None:
        return None
    codes = second_factor.enrol(user, secret, used_step=step)
    audit.record("auth.totp_enrolled", object_type="staff_user", object_id=user.id, actor=user)
    db.session.commit()
    return codes


def new_recovery_codes(user):
    codes = second_factor.new_recovery_codes(user)
    audit.record("auth.recovery_codes_renewed", object_type="staff_user", object_id=user.id)
    db.session.commit()
    return codes


def remove_own_second_factor(user, password):
    """Support staff may switch their optional second factor off again (with their password)."""
    if second_factor.required_for(user):
        raise StaffError(_l("Your role requires a second factor."))
    if not passwords.verify(user.password_hash, password):
        raise StaffError(_l("The current password is wrong."))
    second_factor.remove(user)
    audit.record("auth.totp_removed", object_type="staff_user", object_id=user.id)
    db.session.commit()


def start_session(user, user_agent, ip):
    """Both steps passed: open a new server-side session and return its token for the cookie."""
    token = sessions.start(user, user_agent=user_agent, ip=ip)
    user.last_login_at = utcnow()
    audit.record("auth.login", object_type="staff_user", object_id=user.id, actor=user,
                 details={"second_factor": second_factor.enrolled(user)})
    db.session.commit()
    return token


def sign_out(user, token):
    sessions.end(token)
    audit.record("auth.logout", object_type="staff_user", object_id=user.id)
    db.session.commit()


def change_own_password(user, current, new, confirm, keep_token):
    """Self-service change; the current password is not asked right after a reset-code sign-in."""
    if not user.must_change_password and not passwords.verify(user.password_hash, current):
        raise StaffError(_l("The current password is wrong."))
    if new != confirm:
        raise StaffError(_l("The two new passwords differ."))
    try:
        passwords.check(new, user.email, user.full_name)
    except passwords.PasswordPolicyError as error:
        raise StaffError(str(error)) from None
    if passwords.verify(user.password_hash, new):
        raise StaffError(_l("Choose a password different from the current one."))
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    ended = sessions.end_all(user, keep_token=keep_token)
    audit.record("auth.password_change", object_type="staff_user", object_id=user.id,
                 details={"sessions_ended": ended})
    db.session.commit()


def end_own_sessions(user, keep_token, session_id=None):
    """"Sign out everywhere else", or one chosen session, from the user's own sessions page."""
    if session_id:
        ended = sessions.end_one(user, session_id) if session_id != sessions.current_key(keep_token) else 0
    else:
        ended = sessions.end_all(user, keep_token=keep_token)
    audit.record("auth.sessions_ended", object_type="staff_user", object_id=user.id,
                 details={"sessions_ended": ended, "own": True})
    db.session.commit()
    return ended
