"""Real second databases for the connector tests: a booking site's own schema in a SQLite file or in a fresh
PostgreSQL database created for the test (unlike the back-office schema: other names, keys and types)."""
import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

import sqlalchemy as sa

from tests.conftest import require_service

SITE_SCHEMA = """
CREATE TABLE customers (cust_id INTEGER PRIMARY KEY, email_addr VARCHAR(200) NOT NULL UNIQUE, mobile VARCHAR(30),
                        full_name VARCHAR(200) NOT NULL, loyalty_no VARCHAR(20), created DATE,
                        on_hold BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE trips (trip_id INTEGER PRIMARY KEY, cust_ref INTEGER NOT NULL REFERENCES customers(cust_id),
                    pnr_code CHAR(6) NOT NULL, passenger VARCHAR(200), amount NUMERIC(12, 2) NOT NULL);
CREATE TABLE newsletter (id INTEGER PRIMARY KEY, address VARCHAR(200) NOT NULL);
"""
SITE_ROWS = """
INSERT INTO customers VALUES (1, 'Zhanar.Site@mail.kz', '+77015551234', 'Zhanar Siteova', 'L-1001', '2024-01-02',
                              FALSE);
INSERT INTO customers VALUES (2, 'other@mail.kz', '+77029990000', 'Other Person', 'L-2002', '2024-02-03', FALSE);
INSERT INTO trips VALUES (10, 1, 'PNR001', 'ZHANAR SITEOVA', 45000.00);
INSERT INTO trips VALUES (11, 1, 'PNR002', 'ZHANAR SITEOVA', 21000.00);
INSERT INTO trips VALUES (12, 2, 'PNR003', 'OTHER PERSON', 10000.00);
INSERT INTO newsletter VALUES (100, 'zhanar.site@mail.kz');
INSERT INTO newsletter VALUES (101, 'other@mail.kz');
"""
DATASET = {
    "identifiers": ["email", "phone"],
    "tables": [
        {"table": "customers", "match": {"email": "email_addr", "phone": "mobile"},
         "columns": {"email_addr": "mask", "full_name": "mask", "mobile": "null",
                     "loyalty_no": "keep: Tax Code art. 48 (loyalty accrual records)"},
         "fields": {"email": "email_addr", "phone": "mobile", "full_name": "full_name"}, "block": "on_hold"},
        {"table": "trips", "via": {"column": "cust_ref", "parent": "customers", "parent_column": "cust_id"},
         "columns": {"passenger": "null", "amount": "keep: Law on accounting art. 11"},
         "fields": {"full_name": "passenger"}},
        {"table": "newsletter", "match": {"email": "address"}, "columns": {"address": "delete row"}},
    ],
}
SUBJECT = {"email": ["zhanar.site@mail.kz"], "phone": ["+77015551234"]}


def _load(engine):
    with engine.begin() as connection:
        for statement in (SITE_SCHEMA + SITE_ROWS).split(";"):
            if statement.strip():
                connection.execute(sa.text(statement))


@contextmanager
def sqlite_site(tmp_path):
    path = tmp_path / "booking-site.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    _load(engine)
    engine.dispose()
    yield f"sqlite:///{path}"


def postgres_admin_url():
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if not url.startswith("postgres"):
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(url)
    return parts._replace(path="/postgres").geturl()


@contextmanager
def postgres_site():
    admin_url = postgres_admin_url()
    require_service("PostgreSQL", admin_url, 5432)
    name = f"bo_systems_site_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    engine = sa.create_engine(url)
    try:
        _load(engine)
        engine.dispose()
        yield url
    finally:
        from backoffice.services import sql_connector

        for key, cached in list(sql_connector._engines.items()):
            if key[1] == url:
                cached.dispose()
                sql_connector._engines.pop(key)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rows(url, sql):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()
