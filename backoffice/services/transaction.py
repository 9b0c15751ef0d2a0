"""One user action = one transaction, owned by the service: `@user_action` commits what the function did, or rolls
all of it back when it raises (and re-raises, so the view can say why). Views never commit."""
import functools

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
