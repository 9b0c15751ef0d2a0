"""One user action = one transaction, owned by the service: `@user_action` commits what the function did, or rolls
all of it back when it raises (and re-raises, so the view can say why). Views never commit."""
import functools

from sqlalchemy import text

from ..extensions import db


def user_action(func):
    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return result
    return run


def commit_read_audit():
    """Commit the audit event of a read while its page is being built, keeping the rows the page has loaded.

    A plain commit expires every loaded row, so a list page would reload each of its rows, one SELECT per row, while
    rendering them (26 statements instead of 1 on a page of 25). The rows were read in this same transaction, so
    showing them as loaded shows exactly what was read and audited.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def open_for_savepoints():
    """Make sure a real transaction is open before the savepoints that follow (a batch: all or nothing per subject).

    Python's sqlite3 driver opens a transaction only before a write, so a SAVEPOINT outside one starts a transaction
    of its own, which its RELEASE commits. On SQLite a write that changes nothing opens it first.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("UPDATE job_record SET id = id WHERE 0 = 1"))
