"""Bek Air privacy back-office: the application factory."""
import logging
from pathlib import Path

from flask import Flask, g, has_request_context, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import http_security
from .auth import bp as auth_bp
from .auth.account import bp as account_bp
from .auth.account import gate_forced_change
from .config import PROJECT_ROOT, load_config
from .extensions import babel, csrf, db, login_manager, migrate
from .services import sessions


def select_locale():
    """Staff choose kk/ru/en; otherwise the browser's preference, otherwise the default."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("language")
    if chosen in languages:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return current_user.language
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # Foreign keys and a busy timeout make SQLite behave like the PostgreSQL deployment for our purposes.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def create_app(config=None):
    """Build the app. `config` overrides what the environment says (tests pass their own)."""
    overrides = dict(config or {})
    settings = load_config(instance_path=overrides.get("INSTANCE_PATH"))
    settings.update(overrides)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from . import models  # noqa: F401  (registers the tables)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to use the back-office.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id):
        # The signed cookie only names a server-side session; an ended or expired one signs nobody in.
        return sessions.load(session.get("sid"), user_id)

    @app.before_request
    def _load_user_from_this_request():
        # The user comes from this request's session record, even where one app context serves several
        # requests (the test client inside a pushed context): never from a previous request's cache.
        g.pop("_login_user", None)

    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.before_request(gate_forced_change)
    http_security.install(app)

    from .api import init_api

    init_api(app)

    from .public import bp as download_bp

    app.register_blueprint(download_bp)

    from .admin import init_admin

    init_admin(app)

    from .jobs.embedded import init_jobs

    init_jobs(app)

    from .services.letter_triggers import init_app as init_letter_triggers

    init_letter_triggers(app)

    from .cli import register_cli

    register_cli(app)
    _register_error_pages(app)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    from . import labels, system_notes

    labels.init_app(app)
    system_notes.init_app(app)
    logging.getLogger("backoffice").setLevel(logging.INFO)
    from .logging_policy import install as install_log_policy

    install_log_policy(app)
    return app


def _register_error_pages(app):
    from flask_wtf.csrf import CSRFError

    def render_error(code, title, message):
        if request.path.startswith("/api/"):
            return {"error": str(message)}, code
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(403)
    def forbidden(error):
        return render_error(403, _l("Not allowed"), _l("Your role does not allow this page or action. "
                                                       "Ask an administrator if you need access."))

    @app.errorhandler(404)
    def not_found(error):
        return render_error(404, _l("Not found"), _l("There is nothing at this address."))

    @app.errorhandler(405)
    def method_not_allowed(error):
        return render_error(405, _l("Not allowed"), _l("This address does not accept this kind of request."))

    @app.errorhandler(400)
    def bad_request(error):
        description = getattr(error, "description", None)
        if not isinstance(description, str) or description.startswith("The browser (or proxy)"):
            description = _l("The request could not be understood: check the address and the form values.")
        return render_error(400, _l("Bad request"), description)

    @app.errorhandler(413)
    def too_large(error):
        return render_error(413, _l("File too large"), _l("The uploaded file is larger than allowed."))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, _l("Form expired"), _l("The form expired or was not sent from this site. "
                                                        "Reload the page and try again."))

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return render_error(500, _l("Something went wrong"), _l("The error was logged. Nothing was changed."))
