"""The demo's data map: the booking site as a second SQLite database under instance/, a mailer reached by webhook
(the demo starts a local receiver), and a paper archive confirmed by hand (issue 11).

The booking site has its own schema, unlike ours; the demo copies onto it the clients who have an erasure,
rectification or blocking request in the demo queue, so approving that erasure (or completing the blocking after
its approval) shows the fan-out end to end. The site and the mailer also take part in rectification and blocking.
"""
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select

from ..extensions import db
from ..models.records import Booking
from ..models.requests import BLOCKING, CONSENT_WITHDRAWAL, ERASURE, RECTIFICATION, PrivacyRequest
from ..models.clients import Client
from ..models.systems import MANUAL, SQL, WEBHOOK, DataSystem
from . import datamap

SITE_URL_ENV = "DEMO_BOOKING_SITE_URL"
MAILER_SECRET_ENV = "DEMO_MAILER_SECRET"
RECEIVER_PORT = 8765
SITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS customers (cust_id INTEGER PRIMARY KEY, email_addr VARCHAR(200) NOT NULL UNIQUE, "
    "mobile VARCHAR(30), full_name VARCHAR(200) NOT NULL, loyalty_no VARCHAR(20), created DATE, "
    "on_hold BOOLEAN NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS trips (trip_id INTEGER PRIMARY KEY, cust_ref INTEGER NOT NULL "
    "REFERENCES customers(cust_id), pnr_code CHAR(6) NOT NULL, passenger VARCHAR(200), amount NUMERIC(12, 2) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS newsletter (id INTEGER PRIMARY KEY, address VARCHAR(200) NOT NULL)",
)
SITE_DATASET = {
    "identifiers": ["email", "phone", "pnr"],
    "tables": [
        {"table": "customers", "match": {"email": "email_addr", "phone": "mobile"},
         "columns": {"email_addr": "mask", "full_name": "mask", "mobile": "null",
                     "loyalty_no": "keep: Tax Code art. 48 (loyalty accrual records)"},
         "fields": {"email": "email_addr", "phone": "mobile", "full_name": "full_name"}, "block": "on_hold"},
        {"table": "trips", "via": {"column": "cust_ref", "parent": "customers", "parent_column": "cust_id"},
         "columns": {"passenger": "null", "amount": "keep: Law on accounting and financial reporting art. 11"},
         "fields": {"full_name": "passenger"}},
        {"table": "newsletter", "match": {"email": "address"}, "columns": {"address": "delete row"},
         "fields": {"email": "address"}},
    ],
}


def configure_environment(instance_path):
    """The variables the demo's systems name: the booking site's URL and the mailer's secret (kept in instance/)."""
    path = Path(instance_path)
    path.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault(SITE_URL_ENV, f"sqlite:///{path / 'booking-site.db'}")
    secret_file = path / "demo_mailer_secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(16))
        secret_file.chmod(0o600)
    os.environ.setdefault(MAILER_SECRET_ENV, secret_file.read_text().strip())


def _build_site(clients):
    engine = sa.create_engine(os.environ[SITE_URL_ENV])
    try:
        with engine.begin() as connection:
            for statement in SITE_SCHEMA:
                connection.execute(sa.text(statement))
            if "on_hold" not in {column["name"] for column in sa.inspect(connection).get_columns("customers")}:
                # A booking-site file from an older demo: add the block flag the dataset now names.
                connection.execute(sa.text("ALTER TABLE customers ADD COLUMN on_hold BOOLEAN NOT NULL DEFAULT 0"))
            if connection.execute(sa.text("SELECT count(*) FROM customers")).scalar():
                return 0
            for number, client in enumerate(clients, start=1):
                connection.execute(sa.text(
                    "INSERT INTO customers VALUES (:id, :email, :phone, :name, :loyalty, '2024-01-15', 0)"),
                    {"id": number, "email": client.email_norm, "phone": client.phone_e164, "name": client.full_name,
                     "loyalty": f"L-{1000 + number}"})
                pnrs = db.session.execute(select(Booking.pnr).where(Booking.client_id == client.id)).scalars()
                for pnr in pnrs:
                    connection.execute(sa.text(
                        "INSERT INTO trips (cust_ref, pnr_code, passenger, amount) VALUES (:c, :p, :n, 45000)"),
                        {"c": number, "p": pnr, "n": (client.full_name or "").upper()})
                connection.execute(sa.text("INSERT INTO newsletter (address) VALUES (:a)"),
                                   {"a": client.email_norm})
            return len(clients)
    finally:
        engine.dispose()


def seed_demo_systems(receiver_url):
    """Idempotent: the three demo systems and the booking site's rows (for clients with an erasure, rectification
    or blocking request); committed here."""
    datamap.ensure_backoffice_system()
    existing = {system.name for system in datamap.all_systems()}
    wanted = (
        DataSystem(name="Booking site (demo)", owner="Web team", kind=SQL, connection_env=SITE_URL_ENV,
                   request_types=[ERASURE, CONSENT_WITHDRAWAL, "access", RECTIFICATION, BLOCKING], country="KZ",
                   dataset=SITE_DATASET,
                   data_categories="accounts, trips, newsletter subscriptions",
                   held_categories=["identity", "contact", "booking", "account"],
                   retention_reference="Tax Code art. 48; Law on accounting art. 11"),
        DataSystem(name="Mailer (demo webhook)", owner="Marketing", kind=WEBHOOK, webhook_url=receiver_url,
                   secret_env=MAILER_SECRET_ENV, request_types=[ERASURE, CONSENT_WITHDRAWAL, RECTIFICATION, BLOCKING],
                   country="DE", dataset={"identifiers": ["email"], "fields": ["email", "full_name"]},
                   data_categories="e-mail address, name, campaign history",
                   held_categories=["identity", "contact", "consents"],
                   retention_reference="Policy 3.2.2"),
        DataSystem(name="Paper archive", owner="Records office", kind=MANUAL,
                   request_types=[ERASURE, CONSENT_WITHDRAWAL], country="KZ",
                   data_categories="signed contracts and letters", held_categories=["identity", "contact", "document"],
                   retention_reference="Law on archives, art. 16"),
    )
    for system in wanted:
        if system.name not in existing:
            db.session.add(datamap.validate(system))
    db.session.flush()
    subjects = db.session.execute(
        select(Client).join(PrivacyRequest, PrivacyRequest.client_id == Client.id)
        .where(PrivacyRequest.type.in_((ERASURE, CONSENT_WITHDRAWAL, RECTIFICATION, BLOCKING))).order_by(Client.id)
        .distinct()
    ).scalars().all()
    copied = _build_site(subjects)
    db.session.commit()  # the service owns the demo's commit, like every other user action
    return copied
