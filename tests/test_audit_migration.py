"""Migration 0005 creates the same append-only protection as db.create_all() (policy 4.3)."""
import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from backoffice import create_app
from backoffice.extensions import db
from backoffice.services import audit
from tests.conftest import _database_url, is_postgres, require_service


def _check_migrated_database_refuses_changes(app):
    with app.app_context():
        upgrade()
        audit.record("test.migrated")
        audit.record("test.migrated")
        db.session.commit()
        assert audit.verify().checked == 2
        for sql in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event",
                    "UPDATE audit_chain_head SET count = 0", "DELETE FROM audit_chain_head"):
            with db.engine.connect() as connection, pytest.raises(DBAPIError):
                connection.execute(text(sql))
                connection.commit()
        assert audit.verify().ok
        db.session.remove()
        db.engine.dispose()


def test_migrated_sqlite_database_refuses_update_and_delete(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "BACKOFFICE_HASH_KEY": "y"})
    _check_migrated_database_refuses_changes(app)


def test_migrated_postgres_database_refuses_update_and_delete(tmp_path):
    if not is_postgres():
        pytest.skip("set DATABASE_URL to a PostgreSQL database to run the migrations there")
    url = _database_url()
    require_service("PostgreSQL", url, 5432)
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in url else "?"
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"{url}{separator}options=-csearch_path%3D{schema}",
                          "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", "BACKOFFICE_HASH_KEY": "y"})
        _check_migrated_database_refuses_changes(app)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
