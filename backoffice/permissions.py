"""The permission matrix, in one place (policy 4.3): views, services and jobs ask it, never hard-code roles.

It sits below `services` and `auth` so both may import it.
"""
from functools import wraps

from flask import abort
from flask_login import current_user

from .extensions import login_manager
from .models.staff import ADMIN, MANAGER, SUPERVISOR, SUPPORT

# What each area allows: roles that may read, and roles that may change.
CLIENTS_READ = {SUPPORT, MANAGER, SUPERVISOR}
REQUESTS_READ = {SUPPORT, MANAGER, SUPERVISOR}
REQUESTS_HANDLE = {SUPPORT, MANAGER}
APPROVE = {MANAGER}
OPTOUTS_READ = {SUPPORT, MANAGER, SUPERVISOR}
OPTOUTS_WRITE = {SUPPORT, MANAGER}
AUDIT_READ = {SUPERVISOR}
STAFF_ADMIN = {ADMIN}
DEADLINES_ADMIN = {ADMIN}
# The data map names systems, owners and where data lives (art. 12): the admin manages it.
SYSTEMS_ADMIN = {ADMIN}
JOBS_READ = {MANAGER, SUPERVISOR}
JOBS_RETRY = {MANAGER}
CERTIFICATES_READ = {MANAGER, SUPERVISOR}
# Statistics are aggregated and depersonalised (policy 3.2.3): the roles that oversee the work.
STATISTICS_READ = {MANAGER, SUPERVISOR}
# Export packages hold everything about a client: only roles that handle requests may download (not supervisors).
EXPORTS_DOWNLOAD = {SUPPORT, MANAGER}
# The e-mail channel (issue 12): received messages and letters are read by those who handle requests;
# the admin edits the letter templates (no client data in them).
MAIL_HANDLE = {SUPPORT, MANAGER}
LETTER_TEMPLATES_ADMIN = {ADMIN}
# Issue 15 (compliance). Breaches: anyone who handles data may report one; managers and supervisors run them.
BREACHES_REPORT = {SUPPORT, MANAGER, SUPERVISOR}
BREACHES_MANAGE = {MANAGER, SUPERVISOR}
# Writing to every affected client is a manager's decision (supervisors oversee; they do not send).
BREACH_SUBJECTS_NOTIFY = {MANAGER}
DISCLOSURES_READ = {SUPPORT, MANAGER, SUPERVISOR}
DISCLOSURES_WRITE = {SUPPORT, MANAGER}
RETENTION_RULES_READ = {MANAGER, SUPERVISOR, ADMIN}
RETENTION_RULES_ADMIN = {ADMIN}
RETENTION_RUNS_READ = {MANAGER, SUPERVISOR}
RETENTION_RUNS_START = {MANAGER}  # a dry run now; opening erasure requests for dormant accounts
NOTICES_READ = {SUPPORT, MANAGER, SUPERVISOR, ADMIN}
NOTICES_ADMIN = {ADMIN}
CONSENTS_RECORD = {SUPPORT, MANAGER}
PROCESSING_REGISTER_READ = {MANAGER, SUPERVISOR, ADMIN}
COMPLIANCE_SETTINGS_ADMIN = {ADMIN}


def has_any(roles):
    return bool(getattr(current_user, "is_authenticated", False) and current_user.role_set & set(roles))


def roles_required(roles):
    """Decorator for plain Flask views: 401→login for anonymous users, 403 without one of `roles`."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not getattr(current_user, "is_authenticated", False):
                return login_manager.unauthorized()
            if not has_any(roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
