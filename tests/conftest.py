"""Test fixtures that read like the staff's own actions: login_as("manager"), make_client(...).

The database is SQLite unless TEST_DATABASE_URL or DATABASE_URL names another; CI runs the whole suite once on
SQLite and once on PostgreSQL + Redis. The schema is built once per session: on SQLite into a template file that
is copied for every test (a real file, so commits, triggers, other processes and threads behave as in
production); on PostgreSQL once, with the tables emptied (TRUNCATE) before every test.

Redis is used only when TEST_REDIS_URL or REDIS_URL names it; a Redis that merely happens to run is never touched.
"""
import copy
import os
import shutil
import socket
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from backoffice import create_app
from backoffice.extensions import db
from backoffice.jobs.embedded import init_jobs
from backoffice.models.staff import StaffUser
from backoffice.services import second_factor
from backoffice.services import passwords
from backoffice.services import staff as staff_service

TEST_PASSWORD = "correct-horse-battery"
# Every test account signs in with a real second factor (issue 13): codes come from pyotp, no bypass exists.
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# pytest-xdist runs the suite in several processes ("gw0", "gw1", ...): each gets a PostgreSQL database and a Redis
# database of its own, so no worker empties or flushes what another is using.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_PASSWORD_HASH = None


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, connection_record):
    """Test databases are thrown away: SQLite hands each commit to the operating system without waiting for the disk
    (~1.3 ms a commit here). A process killed mid-transaction (the crash tests) still leaves a consistent file; only
    a power cut could not, and no test makes one."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def _named_database_url():
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")


def _database_url():
    """The database of this test process: the named one, or under xdist `<name>_<worker>` beside it."""
    url = _named_database_url()
    if url and url.startswith("postgres") and XDIST_WORKER:
        parts = urlsplit(url)
        return parts._replace(path=f"{parts.path}_{XDIST_WORKER}").geturl()
    return url


def redis_url():
    """The Redis the tests may use (and flush), or None: only what the environment names explicitly.

    Under xdist each worker takes its own database number after the named one (`/0` → `/1`, `/2`, ...)."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or None
    if url and XDIST_WORKER:
        parts = urlsplit(url)
        base, worker = int(parts.path.strip("/") or 0), int(XDIST_WORKER.removeprefix("gw"))
        if base + 1 + worker > 15:  # Redis has 16 databases: a wrap would share (and flush) another's
            raise pytest.UsageError(f"Redis database {base} leaves no database of its own for xdist worker "
                                    f"{worker}: run with fewer processes (-n) or a lower database number")
        number = base + 1 + worker
        return parts._replace(path=f"/{number}").geturl()
    return url


def _reachable(url, default_port):
    parts = urlsplit(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name, url, port):
    """Skip on a developer machine without the service; in CI a missing service is a failure.

    A service no URL names (url None) is not part of this run: skip everywhere (CI's other run provides it).
    """
    if not url:
        pytest.skip(f"{name} not configured for this run (the PostgreSQL + Redis run sets it: see README, Tests)")
    if _reachable(url, port):
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable at {urlsplit(url).hostname}:{urlsplit(url).port or port} in CI")
    pytest.skip(f"{name} not reachable; CI runs this test against a real {name}")


@pytest.fixture
def needs_pdf():
    """WeasyPrint's system libraries: skipped on a developer machine without them, a failure in CI."""
    from backoffice.services import documents

    if not documents.pdf_available():
        reason = "WeasyPrint needs libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 (installed by .ci/run)"
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)


def is_postgres():
    url = _database_url() or ""
    return url.startswith("postgres")


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """Argon2id with the smallest cost: every sign-in of the suite verifies a hash (~0.1 s each at the default
    cost). Still the real argon2 code path; only the work factor is lowered, for tests only."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    saved = passwords._hasher, passwords.DUMMY_HASH
    passwords._hasher, passwords.DUMMY_HASH = cheap, cheap.hash("not-a-real-password")
    yield
    passwords._hasher, passwords.DUMMY_HASH = saved


@pytest.fixture(scope="session")
def password_hash(_cheap_password_hashing):
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = staff_service.hash_password(TEST_PASSWORD)
    return _PASSWORD_HASH


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    """An SQLite file with the whole schema (tables, indexes, audit triggers), built once and copied per test."""
    if is_postgres():
        return None
    folder = tmp_path_factory.mktemp("schema")
    path = folder / "template.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True,
                      "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "x", "BACKOFFICE_HASH_KEY": "x",
                      "REDIS_URL": None})
    with app.app_context():
        db.create_all()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_schema():
    """On PostgreSQL the schema is created once; each test then starts from empty tables.

    Under xdist the worker's own database is made afresh (dropped first, closing whatever a run before left open)."""
    url = _database_url()
    if not url or not url.startswith("postgres"):
        return None
    require_service("PostgreSQL", url, 5432)
    if url != _named_database_url():
        _create_fresh_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.commit()
        db.engine.dispose()
    return url


def _create_fresh_database(url):
    from sqlalchemy import create_engine

    name = urlsplit(url).path.strip("/")
    admin = create_engine(_named_database_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _end_leftover_connections():
    """End every other connection to this process's test database before a test starts.

    None may outlive its test: a server thread, a job paused at a checkpoint or a worker process an earlier test
    left behind would hold its locks and make TRUNCATE wait for ever. Each one ended is reported as a warning
    (with its last statement) so the test that leaked it can be found."""
    leftovers = db.session.execute(text(
        "SELECT pid, state, left(query, 200) AS query, pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )).all()
    db.session.commit()
    for row in leftovers:
        warnings.warn(f"ended a connection an earlier test left open ({row.state}): {row.query}")


def _empty_postgres_tables():
    _end_leftover_connections()
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    # Should a connection still hold a lock, TRUNCATE fails after 30 s instead of waiting for ever.
    db.session.execute(text("SET LOCAL lock_timeout = '30s'"))
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def app_config(tmp_path, _postgres_schema, _sqlite_template):
    if _sqlite_template is not None:
        shutil.copyfile(_sqlite_template, tmp_path / "test.db")
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "BACKOFFICE_HASH_KEY": "test-hash-key",
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": None,
        "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "EXPORT_DIR": str(tmp_path / "exports"),
        "SQLALCHEMY_DATABASE_URI": _postgres_schema or f"sqlite:///{tmp_path / 'test.db'}",
    }
    return config


# What differs between two tests' configurations only because each test has its own folder and queue.
PER_TEST_KEYS = ("INSTANCE_PATH", "EXPORT_DIR", "SQLALCHEMY_DATABASE_URI", "RQ_QUEUE")
_shared_apps = {}


class SharedApp:
    """One app per distinct test configuration and test process, reused by every test with that configuration.

    Building the app costs ~0.2 s (Flask-Admin's views and ~190 URL rules), most of a small test's time. Each test
    still starts from the same state as with an app of its own: an empty database (the template copied over the
    app's SQLite file, or PostgreSQL's tables emptied), its own folders and queue name (the configuration is put
    back as built, with the test's paths), the app's extensions as built, a fresh embedded worker, no rate-limit
    counts.
    """

    def __init__(self, config, folder):
        self.database_file = folder / "shared.db"
        built = dict(config, SQLALCHEMY_DATABASE_URI=config["SQLALCHEMY_DATABASE_URI"]
                     if is_postgres() else f"sqlite:///{self.database_file}")
        self.app = create_app(built)
        self.instance = self.app.instance_path
        self.config = copy.deepcopy(dict(self.app.config))
        self.extensions = dict(self.app.extensions)
        self.hooks = dict(vars(self.app))
        # Flask-Admin's views hold per-view settings (page size, caps): each test gets them as built.
        self.views = [(view, dict(vars(view))) for view in self.app.extensions["backoffice_admin"]._views]

    def reset(self, test_config, template):
        app = self.app
        for name in list(vars(app)):
            if name not in self.hooks:
                delattr(app, name)
        app.__dict__.update(self.hooks)
        # As after its first request: a test that registers a route or hook on it fails (it would outlive the test).
        app._got_first_request = True
        app.config.clear()
        app.config.update(copy.deepcopy(self.config))
        instance = test_config["INSTANCE_PATH"]
        for name, value in list(app.config.items()):  # paths the configuration derived from the instance folder
            if isinstance(value, str) and value.startswith(self.instance):
                app.config[name] = instance + value[len(self.instance):]
        app.config.update({name: test_config[name] for name in PER_TEST_KEYS if name != "SQLALCHEMY_DATABASE_URI"})
        app.instance_path = instance
        Path(instance).mkdir(parents=True, exist_ok=True)
        app.extensions.clear()
        app.extensions.update(self.extensions)
        for view, attributes in self.views:
            for name in set(vars(view)) - set(attributes):
                delattr(view, name)
            vars(view).update(attributes)
        self.worker = init_jobs(app)  # a fresh embedded worker (nothing queued by an earlier test)
        limiter = app.extensions.get("backoffice_limiter")
        if limiter is not None:
            limiter.reset()  # its memory, or its keys in this process's own Redis database
        if template is not None:
            with app.app_context():
                db.engine.dispose()
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{self.database_file}{suffix}").unlink(missing_ok=True)
            # A new file put in place (not the old one overwritten): a connection an earlier test's thread still
            # holds keeps the old file and never sees this test's database change under it.
            fresh = self.database_file.with_suffix(".new")
            shutil.copyfile(template, fresh)
            os.replace(fresh, self.database_file)
        return app


def _shared_app(config, tmp_path, tmp_path_factory, postgres_url):
    """The shared app for this configuration, or None when the test chose its own database (file)."""
    own = {"INSTANCE_PATH": str(tmp_path / "instance"), "EXPORT_DIR": str(tmp_path / "exports"),
           "SQLALCHEMY_DATABASE_URI": postgres_url or f"sqlite:///{tmp_path / 'test.db'}"}
    if any(config.get(name) != value for name, value in own.items()):
        return None
    key = repr(sorted((name, repr(value)) for name, value in config.items() if name not in PER_TEST_KEYS))
    if key not in _shared_apps:
        _shared_apps[key] = SharedApp(config, tmp_path_factory.mktemp("shared-app"))
    return _shared_apps[key]


@pytest.fixture
def app(app_config, tmp_path, tmp_path_factory, _sqlite_template, _postgres_schema):
    shared = _shared_app(app_config, tmp_path, tmp_path_factory, _postgres_schema)
    app = shared.reset(app_config, _sqlite_template) if shared else create_app(app_config)
    # A test that builds a second app from app_config (or hands it to a subprocess) meets the same database.
    app_config["SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        if is_postgres():
            _empty_postgres_tables()
        yield app
        db.session.remove()
        db.engine.dispose()
    if shared is not None and shared.worker is not None and shared.worker.is_alive():
        shared.worker.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_staff(app, password_hash):
    """make_staff("manager") → a StaffUser with that role (and a unique e-mail)."""
    def factory(*roles, email=None):
        user = StaffUser(email=email or f"{'-'.join(roles) or 'none'}-{uuid.uuid4().hex[:6]}@test.local",
                         full_name="Test " + ",".join(roles), password_hash=password_hash)
        user.role_set = set(roles)
        db.session.add(user)
        db.session.commit()
        return user
    return factory


def totp_code(user):
    """A code the server has not accepted yet for this user (each 30-second step works once)."""
    db.session.refresh(user)
    step = max(second_factor.current_step(), (user.totp_last_step or 0) + 1)
    return pyotp.TOTP(user.totp_secret).at(step * 30)


class AuthActions:
    def __init__(self, client, make_staff):
        self._client = client
        self._make_staff = make_staff
        self.user = None

    def login(self, user):
        if user.totp_secret is None:
            user.totp_secret = TEST_TOTP_SECRET
            db.session.commit()
        response = self._client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if response.headers["Location"].endswith("/login/code"):
            response = self._client.post("/login/code", data={"code": totp_code(user)})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.user = user
        return user

    def login_as(self, *roles):
        return self.login(self._make_staff(*roles))

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client, make_staff):
    return AuthActions(client, make_staff)


@pytest.fixture
def login_as(auth):
    return auth.login_as


@pytest.fixture
def seeded(app):
    """A small deterministic demo data set (clients with every kind of record)."""
    from backoffice.services import demo

    demo.seed_clients(count=20, seed=7)
    db.session.commit()
    return app
