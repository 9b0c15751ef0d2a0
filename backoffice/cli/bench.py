"""`flask bench-data`: an airline-sized, synthetic data set for the benchmarks in bench/ (issue 7).

Everything here is fake: names come from the demo lists, e-mails are made unique by the client id, IINs carry a
valid control digit, phones are valid Kazakh mobile numbers. The loader bypasses the ORM (bulk executemany on
SQLite, COPY on PostgreSQL), drops secondary indexes during the load and rebuilds them afterwards, and computes
the audit hash chain in Python with the same canonical form as services.audit, so `audit-verify` passes.

It DROPS every table of the target database first: it refuses a database whose name does not contain "bench"
unless --force is given.
"""
import datetime as dt
import hashlib
import hmac
import random
import time
from pathlib import Path
from types import SimpleNamespace

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import text

from ..extensions import db
from ..identifiers import name_key, with_control_digit
from ..models.audit import GENESIS_HASH, SQLITE_TRIGGERS
from ..models.consent import PURPOSES
from ..models.requests import CHANNELS, REQUEST_TYPES, STATUSES
from ..services import audit as audit_service
from ..services.demo import (AGENCIES, AIRPORTS, KK_FIRST_F, KK_FIRST_M, KK_LAST, MOBILE_PREFIXES, POSITIONS,
                            RU_FIRST_F, RU_FIRST_M, RU_LAST, SUBJECTS, TRANSLIT, random_bin)

SEED = 7007
BATCH_CLIENTS = 20_000
# A fixed "now" so that the same N always gives the same rows (the bench looks clients up by id).
REFERENCE_TIME = dt.datetime(2026, 11, 1, 9, 0, 0)
BENCH_STAFF = {"support": "bench-support@bench.local", "manager": "bench-manager@bench.local",
               "supervisor": "bench-supervisor@bench.local", "admin": "bench-admin@bench.local"}
PNR_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DOMAINS = ("mail.kz", "gmail.com", "inbox.kz", "yandex.kz")
AUDIT_ACTIONS = ("client.read_full_record", "request.create", "request.verify_identity", "request.approve",
                 "request.complete", "optout.add", "auth.login", "export.download")

COLUMNS = {
    "agency": ("id", "name", "bin", "created_at"),
    "client": ("id", "full_name", "name_key", "email", "email_norm", "phone", "phone_e164", "iin", "date_of_birth",
               "preferred_language", "agency_id", "position", "status", "blocked_until", "source", "created_at",
               "updated_at", "erased_at", "version"),
    "client_account": ("id", "client_id", "login", "registered_at", "last_login_at", "state", "source"),
    "booking": ("id", "client_id", "pnr", "origin", "destination", "flight_date", "passenger_name",
                "document_number", "amount", "currency", "issued_at", "source", "depersonalised_at"),
    "communication": ("id", "client_id", "channel", "direction", "subject", "body", "sent_at", "source"),
    "consent": ("id", "client_id", "purpose", "given_at", "source", "withdrawn_at", "withdrawn_source"),
    "privacy_request": ("id", "type", "channel", "status", "received_at", "due_at", "client_id", "requester_name",
                        "requester_email", "requester_phone", "description", "created_at", "updated_at",
                        "completed_at", "version"),
    "marketing_opt_out": ("id", "email", "email_hash", "phone", "phone_hash", "channel", "source", "client_id",
                          "created_at"),
    "audit_event": ("id", "at", "actor_id", "actor_roles", "action", "object_type", "object_id", "request_id",
                    "outcome", "ip", "details", "prev_hash", "hash"),
}


def _ts(value):
    """The text form SQLAlchemy itself stores on SQLite; PostgreSQL's COPY reads it as a timestamp."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class _Names:
    """Every (surname, first name) pair with its normalised key and Latin e-mail stem, computed once."""

    def __init__(self):
        self.pairs = []
        for kazakh, firsts_m, firsts_f, lasts in ((True, KK_FIRST_M, KK_FIRST_F, KK_LAST),
                                                  (False, RU_FIRST_M, RU_FIRST_F, RU_LAST)):
            for female, firsts in ((False, firsts_m), (True, firsts_f)):
                for last in lasts:
                    surname = last + ("а" if female else "")
                    for first in firsts:
                        full = f"{surname} {first}"
                        latin = f"{first.lower().translate(TRANSLIT)}.{surname.lower().translate(TRANSLIT)}"
                        self.pairs.append((full, name_key(full), latin, kazakh, female))


class BenchData:
    """Generates the rows of one batch of clients and everything that hangs off them."""

    def __init__(self, clients, hash_key, seed=SEED):
        self.total = clients
        self.rng = random.Random(seed)
        self.names = _Names().pairs
        self.hash_key = hash_key.encode("utf-8")
        self.next_id = {table: 1 for table in COLUMNS}
        self.agency_ids = list(range(1, len(AGENCIES) + 1))

    def _id(self, table):
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def agencies(self):
        rng = random.Random(SEED)
        return [(i + 1, name, random_bin(rng, dt.date(2005 + i, 1 + i, 1)), _ts(REFERENCE_TIME))
                for i, name in enumerate(AGENCIES)]

    def _iin(self, born, female):
        century = 3 if born.year < 2000 else 5
        head = born.strftime("%y%m%d") + str(century + (1 if female else 0))
        while True:
            iin = with_control_digit(head + f"{self.rng.randrange(10000):04d}")
            if iin:
                return iin

    @staticmethod
    def phone_of(client_id):
        """A valid, unique KZ mobile number per client id (E.164 and the way people write it)."""
        prefix = MOBILE_PREFIXES[client_id % len(MOBILE_PREFIXES)]
        number = f"{(client_id * 7919 + 1234567) % 10_000_000:07d}"
        return f"+7{prefix}{number}", f"+7 {prefix} {number[:3]} {number[3:5]} {number[5:]}"

    def _keyed(self, value):
        return hmac.new(self.hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def batch(self, first_id, count):
        """Rows per table for clients first_id .. first_id+count-1."""
        rng = self.rng
        rows = {table: [] for table in COLUMNS if table not in ("agency", "audit_event")}
        names = self.names
        for client_id in range(first_id, first_id + count):
            full, key, latin, kazakh, female = names[rng.randrange(len(names))]
            created = REFERENCE_TIME - dt.timedelta(minutes=(self.total - client_id) * 2 + 60)
            born = dt.date(1960 + rng.randrange(44), 1 + rng.randrange(12), 1 + rng.randrange(28))
            email = f"{latin}.{client_id}@{DOMAINS[client_id % 4]}"
            e164, phone = self.phone_of(client_id)
            roll = rng.random()
            status = "erased" if roll < 0.01 else "blocked" if roll < 0.03 else "active"
            language = "kk" if kazakh and rng.random() < 0.6 else ("ru", "en")[rng.randrange(2)]
            created_s = _ts(created)
            if status == "erased":
                erased = _ts(created + dt.timedelta(days=30))
                rows["client"].append((client_id, None, None, None, None, None, None, None, None, language, None,
                                       None, status, None, "registration", created_s, erased, erased, 2))
                continue
            blocked_until = (created + dt.timedelta(days=400)).date().isoformat() if status == "blocked" else None
            rows["client"].append((
                client_id, full, key, email, email, phone, e164, self._iin(born, female), born.isoformat(), language,
                self.agency_ids[rng.randrange(len(self.agency_ids))] if rng.random() < 0.7 else None,
                POSITIONS[rng.randrange(len(POSITIONS))], status, blocked_until, "registration", created_s,
                created_s, None, 1,
            ))
            rows["client_account"].append((self._id("client_account"), client_id, email, created_s,
                                           _ts(created + dt.timedelta(days=rng.randrange(25))), "active",
                                           "registration"))
            for _ in range(1 + rng.randrange(2)):
                flight = created + dt.timedelta(days=rng.randrange(700))
                origin, destination = rng.sample(AIRPORTS, 2)
                pnr = "".join(PNR_ALPHABET[rng.randrange(32)] for _ in range(6))
                rows["booking"].append((
                    self._id("booking"), client_id, pnr, origin, destination, flight.date().isoformat(), full,
                    f"N{rng.randrange(10_000_000, 99_999_999)}", f"{rng.randrange(18_000, 240_000)}.00", "KZT",
                    _ts(flight - dt.timedelta(days=1 + rng.randrange(60))), "service_use", None,
                ))
            for _ in range(rng.randrange(3)):
                subject = SUBJECTS[rng.randrange(len(SUBJECTS))]
                rows["communication"].append((
                    self._id("communication"), client_id, ("email", "phone", "chat")[rng.randrange(3)],
                    ("inbound", "outbound")[rng.randrange(2)], subject, f"{subject}: PNR follow-up.",
                    _ts(created + dt.timedelta(days=1 + rng.randrange(25))), "service_use",
                ))
            rows["consent"].append((self._id("consent"), client_id, PURPOSES[0], created_s, "registration", None,
                                    None))
            if rng.random() < 0.5:
                rows["consent"].append((self._id("consent"), client_id, PURPOSES[1 + rng.randrange(3)], created_s,
                                        "registration", None, None))
            if client_id % 10 == 3:  # 10 % of clients made a privacy request
                received = created + dt.timedelta(days=1 + rng.randrange(300))
                status_ = STATUSES[rng.randrange(len(STATUSES))]
                rows["privacy_request"].append((
                    self._id("privacy_request"), REQUEST_TYPES[rng.randrange(len(REQUEST_TYPES))],
                    CHANNELS[rng.randrange(len(CHANNELS))], status_, _ts(received),
                    _ts(received + dt.timedelta(days=14)), client_id, full, email, phone, None, _ts(received),
                    _ts(received), _ts(received + dt.timedelta(days=5)) if status_ == "completed" else None, 1,
                ))
            if client_id % 5 == 1:  # 20 % opted out of marketing
                rows["marketing_opt_out"].append((
                    self._id("marketing_opt_out"), email, self._keyed(email), e164, self._keyed(e164),
                    ("email", "sms", "phone", "all")[rng.randrange(4)], "unsubscribe_link", client_id,
                    _ts(created + dt.timedelta(days=2)),
                ))
        return rows

    def audit_events(self, first_id, count, prev_hash):
        """`count` chained events; returns (rows, last hash)."""
        rng = self.rng
        rows = []
        start = REFERENCE_TIME - dt.timedelta(seconds=30 * (self.total - first_id + 1))
        for event_id in range(first_id, first_id + count):
            action = AUDIT_ACTIONS[rng.randrange(len(AUDIT_ACTIONS))]
            subject = 1 + rng.randrange(self.total)
            event = SimpleNamespace(
                at=start + dt.timedelta(seconds=30 * (event_id - first_id), microseconds=rng.randrange(1_000_000)),
                actor_id=1 + rng.randrange(4), actor_roles=("support", "manager", "supervisor")[rng.randrange(3)],
                action=action, object_type="client", object_id=str(subject),
                request_id=subject // 10 if action.startswith("request.") else None, outcome="success",
                ip=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                details='{"purpose":"view"}' if action == "client.read_full_record" else None,
                prev_hash=prev_hash,
            )
            event.hash = audit_service.event_hash(event)
            rows.append((event_id, _ts(event.at), event.actor_id, event.actor_roles, event.action, event.object_type,
                         event.object_id, event.request_id, event.outcome, event.ip, event.details, event.prev_hash,
                         event.hash))
            prev_hash = event.hash
        return rows, prev_hash


class _SqliteWriter:
    def __init__(self, raw):
        self.raw = raw
        cursor = raw.cursor()
        # A fresh file that is rebuilt on failure: no journal, no fsync, no FK checks while loading.
        for pragma in ("foreign_keys=OFF", "synchronous=OFF", "journal_mode=OFF", "cache_size=-400000"):
            cursor.execute(f"PRAGMA {pragma}")

    def write(self, table, rows):
        if rows:
            cols = COLUMNS[table]
            self.raw.cursor().executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)

    def finish(self):
        self.raw.commit()
        cursor = self.raw.cursor()
        cursor.execute("PRAGMA journal_mode=DELETE")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")


class _PostgresWriter:
    def __init__(self, raw):
        self.raw = raw
        # Skip FK triggers during the load (the generator keeps every reference valid by construction).
        raw.cursor().execute("SET session_replication_role = replica")

    def write(self, table, rows):
        if not rows:
            return
        lines = "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)
        with self.raw.cursor().copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
            copy.write(lines)

    def finish(self):
        cursor = self.raw.cursor()
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in COLUMNS:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        self.raw.commit()


def recreate_schema(engine):
    """Drop and create every table, then drop the secondary indexes (rebuilt after the load)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        # Dropping the tables of a 1.7 GB SQLite file rewrites it page by page (12 minutes measured); a new file
        # is instant.
        engine.dispose()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)
    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    indexes = [index for table in db.metadata.sorted_tables for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    return indexes


def load_bench_data(clients, echo=print):
    """(Re)build the bench data set in the app's database; returns seconds per phase."""
    engine = db.engine
    timings = {}
    started = time.perf_counter()
    db.session.remove()
    indexes = recreate_schema(engine)
    timings["schema"] = time.perf_counter() - started

    data = BenchData(clients, current_app.config["BACKOFFICE_HASH_KEY"])
    raw = engine.raw_connection()
    try:
        postgres = engine.dialect.name == "postgresql"
        writer = _PostgresWriter(raw.driver_connection) if postgres else _SqliteWriter(raw.driver_connection)
        t0 = time.perf_counter()
        writer.write("agency", data.agencies())
        for first in range(1, clients + 1, BATCH_CLIENTS):
            rows = data.batch(first, min(BATCH_CLIENTS, clients - first + 1))
            for table, table_rows in rows.items():
                writer.write(table, table_rows)
            if first // BATCH_CLIENTS % 10 == 0:
                echo(f"  clients {first - 1 + len(rows['client']):>9,} ({time.perf_counter() - t0:.0f} s)")
        timings["clients_and_records"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        prev_hash = GENESIS_HASH
        for first in range(1, clients + 1, BATCH_CLIENTS * 2):
            events, prev_hash = data.audit_events(first, min(BATCH_CLIENTS * 2, clients - first + 1), prev_hash)
            writer.write("audit_event", events)
        _write_chain_head(raw.driver_connection, postgres, prev_hash, clients)
        timings["audit_chain"] = time.perf_counter() - t0
        writer.finish()
    finally:
        raw.close()

    t0 = time.perf_counter()
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    timings["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # VACUUM sets the visibility map (index-only scans) and ANALYZE the statistics and reltuples.
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    timings["analyze"] = time.perf_counter() - t0
    ensure_bench_staff()
    timings["total"] = time.perf_counter() - started
    return timings


def _write_chain_head(connection, postgres, last_hash, count):
    """Point the chain head at the generated chain's end. The head's guard (models/audit.py) only lets a head
    start at the genesis hash; for this bulk load it is lifted and put back (as bench/audit_bench.py does)."""
    cursor = connection.cursor()
    if postgres:
        cursor.execute("ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_guard")
        cursor.execute("INSERT INTO audit_chain_head (id, last_hash, count) VALUES (1, %s, %s)", (last_hash, count))
        cursor.execute("ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_guard")
    else:
        cursor.execute("DROP TRIGGER IF EXISTS audit_chain_head_insert")
        cursor.execute("INSERT INTO audit_chain_head (id, last_hash, count) VALUES (1, ?, ?)", (last_hash, count))
        cursor.execute(SQLITE_TRIGGERS[2])


def ensure_bench_staff(password=None):
    """One staff account per role for the bench; a fresh random password each call (returned)."""
    import secrets

    from ..models.staff import StaffUser
    from ..services import staff as staff_service

    password = password or secrets.token_urlsafe(16)
    password_hash = staff_service.hash_password(password)
    users = {}
    for role, email in BENCH_STAFF.items():
        user = staff_service.find_by_email(email)
        if user is None:
            user = StaffUser(email=email, full_name=f"Bench {role}", password_hash=password_hash)
            user.role_set = {role}
            db.session.add(user)
        user.password_hash = password_hash
        users[role] = user
    db.session.commit()
    return users, password


def _is_bench_database(engine):
    url = engine.url
    name = (url.database or "") if url.get_backend_name() == "postgresql" else Path(url.database or "").name
    return "bench" in name.lower()


@click.command("bench-data")
@click.option("--clients", default=100_000, show_default=True, type=click.IntRange(1, 50_000_000),
              help="How many clients; ~5 records each, 10% with requests, 20% opted out, one audit event each.")
@click.option("--force", is_flag=True, help="Allow a database whose name does not contain 'bench'.")
@with_appcontext
def bench_data_command(clients, force):
    """DROP all tables and load a synthetic airline-sized data set for bench/run.py."""
    if not force and not _is_bench_database(db.engine):
        raise click.UsageError("This drops every table. Point DATABASE_URL at a database whose name contains "
                               "'bench' (e.g. h_bench or /tmp/bench.db), or pass --force.")
    click.echo(f"Loading {clients:,} clients into {db.engine.url.render_as_string(hide_password=True)} ...")
    timings = load_bench_data(clients, echo=click.echo)
    click.echo("  " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items()))
