"""The benchmark suite of issue 7: one table row per case, project vs the raw-SQL floor vs stock Flask-Admin.

    python bench/run.py --db sqlite --clients 100000 --quick
    python bench/run.py --db postgresql --clients 1000000

A case is a small function registered with @case(...) that returns a Measure: what to time for the project,
optionally the raw-SQL floor for the same work and a peer (stock Flask-Admin) to compare with, and a target.
See docs/bench.md.
"""
import argparse
import hashlib
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/h_bench"
LIST_TARGET_MS = 25.0


# ---- the case table ---------------------------------------------------------------------------------------

@dataclass
class Target:
    label: str
    check: Callable[[dict], bool]


def max_ms(limit):
    """The project's median must not exceed `limit` milliseconds."""
    return Target(f"≤ {limit:g} ms", lambda row: row["project_ms"] <= limit)


def max_ratio(limit):
    """The project's median must not exceed `limit` × the raw-SQL floor."""
    return Target(f"≤ {limit:g}× floor", lambda row: row["ratio"] is not None and row["ratio"] <= limit)


@dataclass
class Measure:
    """What one case times. Each callable runs once per repeat; `setup` runs untimed before each repeat."""

    project: Callable[[], object]
    floor: Optional[Callable[[], object]] = None
    peer: Optional[Callable[[], object]] = None
    setup: Optional[Callable[[], object]] = None
    statements: Optional[int] = None  # SQL statements the project ran (N+1 shows up here)
    extra: dict = field(default_factory=dict)  # more columns for RESULTS (e.g. peak RSS)
    repeats: Optional[int] = None  # override for slow cases
    warmup: bool = True  # False for cases whose one run takes seconds (a fresh worker, 1 M rows)
    self_timed: bool = False  # the callables return the milliseconds they measured (subprocess, worker)


@dataclass
class Case:
    name: str
    group: str
    build: Callable[["Bench"], Measure]
    target: Optional[Target]


CASES = []


def case(name, group="list", target=None):
    """Register a case: `build(bench)` returns the Measure; cases run in registration order."""
    def register(build):
        CASES.append(Case(name, group, build, target))
        return build
    return register


# ---- the environment a case gets ---------------------------------------------------------------------------

def bench_config(db_kind, clients, **overrides):
    """The bench app's config; child processes (export probe, RQ worker) build the same app from it."""
    OUT.mkdir(parents=True, exist_ok=True)
    config = {
        "INSTANCE_PATH": str(OUT / "instance"),
        "SECRET_KEY": "bench-only-secret",
        "BACKOFFICE_HASH_KEY": "bench-only-hash-key",
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL") or None,
        "EXPORT_DIR": str(OUT / "exports"),
    }
    if db_kind == "sqlite":
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{OUT / f'bench-{clients}.db'}"
    else:
        # One schema per data-set size inside the bench database, so 100 k and 1 M sets can coexist.
        config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("BENCH_DATABASE_URL", PG_DEFAULT_URL)
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": True, "connect_args": {"options": f"-csearch_path=bench_{clients}"}}
    config.update(overrides)
    return config


class Bench:
    """The project app with logged-in test clients per role, the stock Flask-Admin peer, and the data set."""

    def __init__(self, db_kind, clients, rebuild, echo=print):
        from backoffice import create_app

        self.db_kind = db_kind
        self.clients = clients
        self.echo = echo
        self.quick = False
        config = bench_config(db_kind, clients)
        if db_kind == "postgresql":
            self.schema = f"bench_{clients}"
        self.config = config
        self.app = create_app(config)
        from sqlalchemy import event

        from backoffice.extensions import db

        self.db = db
        # No app context stays pushed while pages are requested: each request must get its own (fresh
        # db.session, fresh g with the signed-in user), exactly as in production.
        with self.app.app_context():
            self.engine = db.engine
            self.build_seconds = self._ensure_data(rebuild)
            self.subject = self._subject()
        self._captured = None
        event.listen(self.engine, "before_cursor_execute", self._capture)
        self._logins = {}
        self.floor_connection = self.engine.raw_connection()
        self.peer_app = self._peer_app()
        self.peer = self.peer_app.test_client()

    def sql(self, statement, **params):
        """One scalar from the bench database (for cases that need to look something up)."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar()

    # data
    def _ensure_data(self, rebuild):
        from sqlalchemy import text

        from backoffice.cli.bench import load_bench_data

        if self.db_kind == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"))
        if not rebuild:
            try:
                have = self.db.session.execute(text("SELECT count FROM audit_chain_head WHERE id = 1")).scalar()
                # The job cases add their own subjects above id N: only the generated range must be complete.
                top = self.db.session.execute(text("SELECT max(id) FROM client WHERE id <= :n"),
                                              {"n": self.clients}).scalar()
                if top == self.clients and (have or 0) >= self.clients:  # logins append audit events
                    self.echo(f"Reusing the data set of {self.clients:,} clients.")
                    self.db.session.rollback()
                    return None
            except Exception as error:  # noqa: BLE001 - no tables yet: build them
                self.echo(f"No usable data set ({type(error).__name__}).")
            self.db.session.rollback()
        self.echo(f"Building the data set: {self.clients:,} clients ...")
        timings = load_bench_data(self.clients, echo=self.echo)
        self.echo("  " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        return timings["total"]

    def _subject(self):
        """An active client in the middle of the table, with a booking: the one every search looks for."""
        from sqlalchemy import select

        from backoffice.models import Booking, Client

        client_id = self.clients // 2 + 7
        while True:
            client = self.db.session.get(Client, client_id)
            if client is not None and client.status == "active":
                pnr = self.db.session.execute(
                    select(Booking.pnr).where(Booking.client_id == client_id).limit(1)).scalar()
                if pnr:
                    break
            client_id += 1
        subject = {"id": client.id, "email": client.email, "phone_typed": "8" + client.phone[2:],
                   "iin": client.iin, "pnr": pnr, "surname": client.full_name.split()[0]}
        # A PNR of letters only may also be the start of a Latin surname: that search takes another path.
        rows = self.db.session.execute(
            select(Booking.pnr, Booking.client_id).join(Client, Client.id == Booking.client_id)
            .where(Booking.client_id >= client_id, Client.status == "active").order_by(Booking.id).limit(500))
        subject["pnr_letters"], subject["pnr_letters_client"] = next(
            (p, c) for p, c in rows if not any(ch.isdigit() for ch in p))
        self.db.session.rollback()
        return subject

    # SQL capture for the floor
    def _capture(self, conn, cursor, statement, parameters, context, executemany):
        if self._captured is not None:
            self._captured.append((statement, parameters))

    def capture(self, fn):
        """Run fn once and return the SQL statements (with parameters) it sent to the database."""
        self._captured = []
        try:
            fn()
            return self._captured
        finally:
            self._captured = None

    def replay(self, statements):
        """The raw-SQL floor: the same statements, sent by the DB-API driver on one open connection."""
        raw = self.floor_connection

        def run():
            cursor = raw.cursor()
            try:
                for statement, parameters in statements:
                    cursor.execute(statement, parameters)
                    cursor.fetchall()
            finally:
                cursor.close()
                raw.rollback()
        return run

    @staticmethod
    def reads(statements):
        """Only the SELECTs: an audit event cannot be replayed (the chain head has moved on since)."""
        return [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]

    # the project, logged in
    def as_role(self, role):
        if role not in self._logins:
            import pyotp

            from backoffice.cli.bench import ensure_bench_staff
            from backoffice.services import second_factor

            with self.app.app_context():
                users, password = ensure_bench_staff()
                user = users[role]
                if not second_factor.enrolled(user):
                    second_factor.enrol(user, second_factor.new_secret())
                    self.db.session.commit()
                email, secret, last_step = user.email, user.totp_secret, user.totp_last_step
            client = self.app.test_client()
            response = client.post("/login", data={"email": email, "password": password})
            assert response.status_code == 302, f"bench login as {role} failed ({response.status_code})"
            if response.headers["Location"].endswith("/login/code"):  # the second factor (issue 13)
                with self.app.app_context():
                    step = max(second_factor.current_step(), (last_step or 0) + 1)
                response = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(step * 30)})
                assert response.status_code == 302 and "/login" not in response.headers["Location"], \
                    f"bench second factor as {role} failed ({response.status_code})"
            self._logins[role] = client
        return self._logins[role]

    def view(self, endpoint):
        return next(v for v in self.app.extensions["backoffice_admin"]._views if v.endpoint == endpoint)

    # the stock Flask-Admin peer
    def _peer_app(self):
        from flask import Flask
        from flask_admin import Admin
        from flask_admin.contrib.sqla import ModelView
        from flask_admin.theme import Bootstrap4Theme
        from flask_babel import Babel

        from backoffice.models import AuditEvent, Client, PrivacyRequest

        # root_path: bench/ (no templates there), so the peer renders Flask-Admin's own templates, not the project's
        # overrides in templates/ (the current folder when run from the checkout).
        peer = Flask("stock_flask_admin", root_path=str(Path(__file__).resolve().parent))
        peer.config.update(SECRET_KEY="bench-only-secret", SQLALCHEMY_DATABASE_URI=self.config["SQLALCHEMY_DATABASE_URI"],
                           SQLALCHEMY_ENGINE_OPTIONS=self.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        self.db.init_app(peer)
        Babel(peer)
        admin = Admin(peer, name="stock", theme=Bootstrap4Theme())
        # Default settings, plus what the case needs to exist at all: the searchable columns, the filtered
        # column and the same default order as the project's view (so that "page N" holds the same rows).
        admin.add_view(ModelView(Client, self.db, endpoint="peer_clients", url="/peer/clients"))
        admin.add_view(ModelView(PrivacyRequest, self.db, endpoint="peer_requests", url="/peer/requests"))
        admin.add_view(ModelView(AuditEvent, self.db, endpoint="peer_audit", url="/peer/audit"))
        views = {v.endpoint: v for v in admin._views}
        settings = {
            "peer_clients": dict(column_searchable_list=("full_name", "email", "iin"), column_filters=("status",),
                                 column_default_sort=("id", True)),
            "peer_requests": dict(column_filters=("status",), column_default_sort=("id", True)),
            "peer_audit": dict(column_filters=("action",), column_default_sort=("id", True)),
        }
        for endpoint, attrs in settings.items():
            for name, value in attrs.items():
                setattr(views[endpoint], name, value)
            views[endpoint]._refresh_cache()
        self.peer_views = views
        return peer

    # helpers for list cases
    def page(self, role, url, peer_url=None, expect=None):
        """A list/search page: the project through the test client, its SQL replayed raw, and the peer."""
        client = self.as_role(role)
        first = client.get(url)
        if first.status_code == 302 and "search=" in first.headers.get("Location", ""):
            # A typed ?search=term is swapped for an opaque token at once (issue 13): time the page it leads to.
            url = first.headers["Location"]

        def project():
            response = client.get(url)
            assert response.status_code == 200, f"{url} → {response.status_code}"
            if expect is not None:
                assert expect in response.get_data(as_text=True), f"{url}: expected row missing"
            return response

        project()  # warm caches before capturing
        statements = self.capture(project)
        reads = self.reads(statements)
        peer = None
        if peer_url is not None:
            def peer():
                response = self.peer.get(peer_url)
                assert response.status_code == 200, f"{peer_url} → {response.status_code}"
                return response
        return Measure(project=project, floor=self.replay(reads), peer=peer, statements=len(statements),
                       extra={"floor": "its SELECTs only"} if len(reads) < len(statements) else {})

    def post_page(self, role, url, data, expect=None):
        """A page answered on a POST (the request search: the term never goes into a URL), like page()."""
        client = self.as_role(role)
        cpu = []
        extra = {"floor": "its SELECTs only"}

        def project():
            started = time.process_time()
            response = client.post(url, data=data)
            assert response.status_code == 200, f"POST {url} → {response.status_code}"
            if expect is not None:
                assert expect in response.get_data(as_text=True), f"POST {url}: expected row missing"
            # This process's own CPU time: what the page costs here when the two cores are not shared.
            cpu.append((time.process_time() - started) * 1000)
            extra["app CPU ms"] = f"{statistics.median(cpu):.1f}"
            return response

        project()
        statements = self.capture(project)
        cpu.clear()
        return Measure(project=project, floor=self.replay(self.reads(statements)), statements=len(statements),
                       extra=extra)

    @staticmethod
    def sort_arg(view, column):
        return [name for name, _label in view._list_columns].index(column)

    @staticmethod
    def filter_arg(view, column, value):
        for key, (_idx, flt) in view._filter_args.items():
            kind = type(flt).__name__.lower()
            if getattr(flt.column, "key", None) == column and "equal" in kind and "not" not in kind:
                return f"flt0_{key}={value}"
        raise LookupError(f"no equality filter on {column}")


# ---- the cases -------------------------------------------------------------------------------------------

def _deep(bench, total):
    """The page in the middle of a list of `total` rows ordered by id descending: (page number, cursor id)."""
    page = (total // 2) // 25
    return page, total - page * 25 + 1


def _last_page(total):
    return (total - 1) // 25


def _table_size(bench, table):
    return bench.sql(f"SELECT max(id) FROM {table}")


def _details(client_id):
    return f"details/?id={client_id}"


LIST = max_ms(LIST_TARGET_MS)


@case("clients: page 1", target=LIST)
def clients_page_1(bench):
    return bench.page("support", "/admin/clients/", "/peer/clients/")


@case("clients: deep page (middle)", target=LIST)
def clients_deep(bench):
    page, cursor = _deep(bench, bench.clients)
    return bench.page("support", f"/admin/clients/?after={cursor}", f"/peer/clients/?page={page}",
                      expect=_details(cursor - 1))


@case("clients: middle page typed as ?page=N (not linked; OFFSET)")
def clients_typed_page(bench):
    # No target: the pager never links here (it uses cursors); shows what a hand-typed deep page number costs.
    page, cursor = _deep(bench, bench.clients)
    above = bench.sql("SELECT count(*) FROM client WHERE id > :n", n=bench.clients)  # subjects of job cases
    return bench.page("support", f"/admin/clients/?page={page}", f"/peer/clients/?page={page}",
                      expect=_details(cursor - 1 + above))


@case("clients: last page", target=LIST)
def clients_last(bench):
    return bench.page("support", "/admin/clients/?page=-1", f"/peer/clients/?page={_last_page(bench.clients)}",
                      expect=_details(1))


@case("clients: search exact e-mail", target=LIST)
def clients_email(bench):
    s = bench.subject
    return bench.page("support", f"/admin/clients/?search={s['email']}", f"/peer/clients/?search={s['email']}",
                      expect=_details(s["id"]))


@case("clients: search phone '8 7xx xxx xx xx'", target=LIST)
def clients_phone(bench):
    s = bench.subject
    return bench.page("support", f"/admin/clients/?search={s['phone_typed']}",
                      f"/peer/clients/?search={s['phone_typed']}", expect=_details(s["id"]))


@case("clients: search IIN", target=LIST)
def clients_iin(bench):
    s = bench.subject
    return bench.page("support", f"/admin/clients/?search={s['iin']}", f"/peer/clients/?search={s['iin']}",
                      expect=_details(s["id"]))


@case("clients: search PNR", target=LIST)
def clients_pnr(bench):
    s = bench.subject
    # Stock Flask-Admin cannot search bookings from the client list: its peer searches the client columns.
    return bench.page("support", f"/admin/clients/?search={s['pnr']}", f"/peer/clients/?search={s['pnr']}",
                      expect=_details(s["id"]))


@case("clients: search PNR, letters only", target=LIST)
def clients_pnr_letters(bench):
    s = bench.subject
    return bench.page("support", f"/admin/clients/?search={s['pnr_letters']}",
                      f"/peer/clients/?search={s['pnr_letters']}", expect=_details(s["pnr_letters_client"]))


@case("clients: search name prefix (surname)", target=LIST)
def clients_name(bench):
    s = bench.subject
    return bench.page("support", f"/admin/clients/?search={s['surname']}", f"/peer/clients/?search={s['surname']}")


@case("clients: filter status = blocked", target=LIST)
def clients_filter(bench):
    view = bench.view("clients")
    peer = bench.filter_arg(bench.peer_views["peer_clients"], "status", "blocked")
    return bench.page("support", f"/admin/clients/?{bench.filter_arg(view, 'status', 'blocked')}",
                      f"/peer/clients/?{peer}")


@case("clients: sort by name", target=LIST)
def clients_sort(bench):
    view = bench.view("clients")
    peer = bench.peer_views["peer_clients"]
    return bench.page("support", f"/admin/clients/?sort={bench.sort_arg(view, 'full_name')}",
                      f"/peer/clients/?sort={bench.sort_arg(peer, 'full_name')}")


def _list_cases(area, endpoint, peer_endpoint, table, role, filter_column, filter_value, sort_column):
    def first(bench):
        return bench.page(role, f"/admin/{endpoint}/", f"/peer/{peer_endpoint}/")

    def deep(bench):
        page, cursor = _deep(bench, _table_size(bench, table))
        return bench.page(role, f"/admin/{endpoint}/?after={cursor}", f"/peer/{peer_endpoint}/?page={page}")

    def last(bench):
        return bench.page(role, f"/admin/{endpoint}/?page=-1",
                          f"/peer/{peer_endpoint}/?page={_last_page(_table_size(bench, table))}")

    def filtered(bench):
        view, peer = bench.view(endpoint), bench.peer_views[f"peer_{peer_endpoint}"]
        return bench.page(role, f"/admin/{endpoint}/?{bench.filter_arg(view, filter_column, filter_value)}",
                          f"/peer/{peer_endpoint}/?{bench.filter_arg(peer, filter_column, filter_value)}")

    def sort(bench):
        view, peer = bench.view(endpoint), bench.peer_views[f"peer_{peer_endpoint}"]
        return bench.page(role, f"/admin/{endpoint}/?sort={bench.sort_arg(view, sort_column)}",
                          f"/peer/{peer_endpoint}/?sort={bench.sort_arg(peer, sort_column)}")

    case(f"{area}: page 1", target=LIST)(first)
    case(f"{area}: deep page (middle)", target=LIST)(deep)
    case(f"{area}: last page", target=LIST)(last)
    case(f"{area}: filter {filter_column} = {filter_value}", target=LIST)(filtered)
    case(f"{area}: sort by {sort_column}", target=LIST)(sort)


_list_cases("requests", "requests", "requests", "privacy_request", "support", "status", "received", "due_at")
_list_cases("audit log", "audit", "audit", "audit_event", "supervisor", "action", "client.read_full_record", "at")


def _request_subject(bench):
    """A request in the middle of the table whose client is active and has a booking: what every search finds."""
    if getattr(bench, "_request_subject", None) is None:
        from sqlalchemy import text

        with bench.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT r.id, c.email, c.phone, c.iin, b.pnr FROM privacy_request r "
                "JOIN client c ON c.id = r.client_id JOIN booking b ON b.client_id = c.id "
                "WHERE c.status = 'active' AND r.client_id >= :middle ORDER BY r.client_id, b.id LIMIT 1"),
                {"middle": bench.clients // 2}).one()
        bench._request_subject = {"id": row.id, "number": str(row.id), "email": row.email,
                                  "phone_typed": "8 " + row.phone[3:], "iin": row.iin, "pnr": row.pnr}
    return bench._request_subject


def _request_search_case(kind, label):
    def build(bench):
        subject = _request_subject(bench)
        return bench.post_page("support", "/admin/requests/search/", {"term": subject[kind]},
                               expect=_details(subject["id"]))
    case(f"requests: search {label}", target=LIST)(build)


for _kind, _label in (("number", "request number"), ("email", "client e-mail"),
                      ("phone_typed", "client phone '8 7xx xxx xx xx'"), ("iin", "client IIN"),
                      ("pnr", "client PNR")):
    _request_search_case(_kind, _label)


# ---- job cases: erasure, the RQ worker, export, audit verify, scrub ---------------------------------------
#
# Each subject is made fresh (bulk Core inserts, untimed) above id N, so the generated data set stays reusable:
# a client with an account, bookings (half within their retention period: depersonalised; half past it:
# deleted), support messages and consents, and an approved request whose status a job moves on.

SUBJECT_TIME = dt.datetime(2026, 1, 15, 10, 0, 0)


def _subject_rows(tag, records):
    """(client, [(table, rows)]) for one subject with `records` personal-data records besides the client row."""
    from backoffice.models import Booking, ClientAccount, Communication, Consent

    # Every subject has a name, e-mail and phone of their own, as real clients do: the erasure's check of its own
    # work searches the free-text columns for them, and identical values would match every earlier subject.
    number = int(hashlib.blake2b(tag.encode(), digest_size=4).hexdigest(), 16) % 10_000_000
    client = {"full_name": f"Субъект {tag}", "name_key": f"субъект {tag}",
              "email": f"subject.{tag}@bench.example", "email_norm": f"subject.{tag}@bench.example",
              "phone": f"+7 701 {number:07d}", "phone_e164": f"+7701{number:07d}", "status": "active",
              "source": "registration", "preferred_language": "ru", "version": 1}
    rest = records - 1  # one site account
    consents = min(2, max(0, rest - 2))
    bookings = (rest - consents + 1) // 2
    messages = rest - consents - bookings
    plan = [
        (ClientAccount, [{"login": client["email"], "registered_at": SUBJECT_TIME, "state": "active"}]),
        (Booking, [{"pnr": "BNCH%02d" % (k % 100), "origin": "ALA", "destination": "NQZ",
                    "flight_date": dt.date(2025, 6, 1), "passenger_name": client["full_name"],
                    "document_number": f"N{number:07d}{k}", "amount": 42000,
                    # even: issued within the retention period (depersonalised); odd: past it (deleted)
                    "issued_at": dt.datetime(2025, 5, 1) if k % 2 == 0 else dt.datetime(2010, 5, 1)}
                   for k in range(bookings)]),
        (Communication, [{"channel": "email", "direction": "inbound", "subject": "Refund",
                          "body": "Please refund my ticket.", "sent_at": SUBJECT_TIME} for _ in range(messages)]),
        (Consent, [{"purpose": purpose, "given_at": SUBJECT_TIME}
                   for purpose in ("service", "marketing")[:consents]]),
    ]
    return client, plan


def make_subjects(count, records, request_type="erasure"):
    """Insert `count` subjects with `records` records each and an approved request; returns [(client, request)].

    Runs inside an app context; one transaction; RETURNING gives the new ids in order.
    """
    import uuid

    from sqlalchemy import insert

    from backoffice.models import Client, PrivacyRequest

    from backoffice.extensions import db
    batch = uuid.uuid4().hex[:10]
    clients, plans = [], []
    for n in range(count):
        client, plan = _subject_rows(f"{batch}.{n}", records)
        clients.append(client)
        plans.append(plan)
    ids = []
    for start in range(0, count, 5000):
        ids += db.session.execute(insert(Client).returning(Client.id, sort_by_parameter_order=True),
                                  clients[start:start + 5000]).scalars().all()
    by_table = {}
    for client_id, plan in zip(ids, plans):
        for model, rows in plan:
            by_table.setdefault(model, []).extend(dict(row, client_id=client_id) for row in rows)
    for model, rows in by_table.items():
        for start in range(0, len(rows), 20000):
            db.session.execute(insert(model), rows[start:start + 20000])
    now = dt.datetime.utcnow()
    requests = [{"type": request_type, "channel": "email", "status": "approved", "received_at": now,
                 "due_at": now + dt.timedelta(days=14), "client_id": client_id,
                 "requester_name": clients[n]["full_name"], "requester_email": clients[n]["email"],
                 "requester_phone": clients[n]["phone_e164"], "description": "Please delete everything about me.",
                 "approved_at": now, "created_at": now, "updated_at": now, "version": 1}
                for n, client_id in enumerate(ids)]
    request_ids = []
    for start in range(0, count, 5000):
        request_ids += db.session.execute(
            insert(PrivacyRequest).returning(PrivacyRequest.id, sort_by_parameter_order=True),
            requests[start:start + 5000]).scalars().all()
    db.session.commit()
    return list(zip(ids, request_ids))


_FLOOR_SKIP = ("audit_event", "audit_chain_head", "job_record", "request_event")


def _dml_of(statements):
    """The data-changing statements of an erasure (DELETE/UPDATE of the subject's rows), without the bookkeeping."""
    kept = []
    for statement, parameters in statements:
        head = statement.lstrip().split(None, 3)
        verb = head[0].upper() if head else ""
        table = (head[2] if verb == "DELETE" else head[1] if verb == "UPDATE" else "").strip('"')
        if verb in ("DELETE", "UPDATE") and table not in _FLOOR_SKIP:
            kept.append((statement, parameters))
    return kept


def _remap(parameters, mapping):
    def one(value):
        return mapping.get(value, value) if type(value) is int else value  # noqa: E721 - not bools

    if isinstance(parameters, dict):
        return {key: one(value) for key, value in parameters.items()}
    if isinstance(parameters, (list, tuple)) and parameters and isinstance(parameters[0], (dict, list, tuple)):
        return [_remap(p, mapping) for p in parameters]  # executemany
    return tuple(one(value) for value in parameters)


def _erasure_case(records):
    def build(bench):
        from backoffice.services import erasure

        state = {}

        def setup():
            with bench.app.app_context():
                state["client"], state["request"] = make_subjects(1, records)[0]

        def project():
            with bench.app.app_context():
                summary = erasure.erase_client(state["request"])
            assert not summary["noop"], "erasure did nothing"

        # What the service sends for one subject, replayed raw (same parameters, the new subject's ids) on
        # another: the floor is the data work alone, one connection, one commit.
        setup()
        first = dict(state)
        captured = bench.capture(project)
        statements = _dml_of(captured)
        raw = bench.floor_connection
        extra = {"floor": f"{len(statements)} DELETE/UPDATE, 1 commit"}

        def floor():
            mapping = {first["client"]: state["client"], first["request"]: state["request"]}
            cursor = raw.cursor()
            changed = 0
            for statement, parameters in statements:
                parameters = _remap(parameters, mapping)
                if isinstance(parameters, list):
                    cursor.executemany(statement, parameters)
                else:
                    cursor.execute(statement, parameters)
                changed += max(cursor.rowcount, 0)
            cursor.close()
            raw.commit()
            assert changed >= records, f"the floor changed only {changed} rows"
            extra["rows changed"] = changed

        repeats = 5 if bench.quick else 11
        return Measure(project=project, floor=floor, setup=setup, statements=len(captured), repeats=repeats,
                       extra=extra)
    return build


JOBS = "jobs"
case("erasure: one subject, 5 records (service vs its DML)", group=JOBS, target=max_ratio(3))(_erasure_case(5))
case("erasure: one subject, 5,000 records (service vs its DML)", group=JOBS,
     target=max_ratio(3))(_erasure_case(5000))


def _redis_url():
    return os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/5"


def _worker_env(bench, queue):
    env = dict(os.environ)
    url = bench.config["SQLALCHEMY_DATABASE_URI"]
    if bench.db_kind == "postgresql":
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{bench.schema}"
    env.update({"DATABASE_URL": url, "REDIS_URL": _redis_url(), "BACKOFFICE_RQ_QUEUE": queue,
                "SECRET_KEY": bench.config["SECRET_KEY"], "BACKOFFICE_HASH_KEY": bench.config["BACKOFFICE_HASH_KEY"],
                "BACKOFFICE_INSTANCE_PATH": bench.config["INSTANCE_PATH"],
                "BACKOFFICE_EXPORT_DIR": bench.config["EXPORT_DIR"], "FLASK_APP": "wsgi"})
    return env


def _rq_erasures(bench, count, fork):
    """`count` approved erasures queued through services.jobqueue, then ONE real `flask worker --burst` drains them."""
    import subprocess
    import uuid

    from redis import Redis

    from backoffice import create_app
    from backoffice.services import jobqueue

    count = int(os.environ.get("BENCH_RQ_JOBS", 0)) or count
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    Redis.from_url(_redis_url()).ping()
    app = create_app(dict(bench.config, REDIS_URL=_redis_url(), RQ_QUEUE=queue))
    extra = {}

    def setup():
        # Hold off the periodic jobs on this queue (their Redis locks, jobs/schedule.py): otherwise the worker's
        # first maintenance pass queues a reconcile, which re-queues the thousands of approved/executing requests
        # of the generated data set, and the worker would be timed on those too.
        from backoffice.jobs.schedule import PERIODIC_JOBS, lock_key

        connection = jobqueue.redis_connection(app)
        for periodic in PERIODIC_JOBS:
            connection.set(lock_key(queue, periodic), int(time.time()), ex=24 * 3600)
        with app.app_context():
            t0 = time.perf_counter()
            pairs = make_subjects(count, 5)
            t1 = time.perf_counter()
            for _client, request_id in pairs:
                jobqueue.enqueue_request_job(request_id)
            t2 = time.perf_counter()
            extra["setup"] = f"subjects {t1 - t0:.0f} s, enqueue {t2 - t1:.0f} s ({count / (t2 - t1):,.0f}/s)"
            extra["_ids"] = (pairs[0][1], pairs[-1][1])

    def project():
        started = time.perf_counter()
        command = os.environ.get("BENCH_WORKER_COMMAND", "flask --app wsgi worker --burst --without-scheduler "
                                 + ("--fork" if fork else "--no-fork"))
        worker = subprocess.run(command.format(queue=queue, redis=_redis_url()).split(),
                                cwd=ROOT, env=_worker_env(bench, queue), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - started
        assert worker.returncode == 0, f"worker exited {worker.returncode}: {worker.stderr[-300:]}"
        low, high = extra.pop("_ids")
        done = bench.sql("SELECT count(*) FROM privacy_request WHERE id BETWEEN :a AND :b AND status = 'completed'",
                         a=low, b=high)
        assert done == count, f"only {done} of {count} erasures completed"
        extra["throughput"] = f"{count / seconds:,.0f} erasures/s ({1000 * seconds / count:.1f} ms each)"
        return seconds * 1000

    return Measure(project=project, setup=setup, repeats=1, warmup=False, self_timed=True, extra=extra)


class _ScaledTarget(Target):
    """≤ 60 s for 10,000 erasures; the quick mode runs 1,000 against 6 s (the same 6 ms per erasure)."""

    def __init__(self):
        super().__init__("≤ 60 s / 10 k", self.check_row)

    @staticmethod
    def check_row(row):
        return row["project_ms"] is not None and row["project_ms"] <= 6 * row["extra"]["_jobs"]


def _rq_case(jobs, quick_jobs, fork):
    def build(bench):
        count = quick_jobs if bench.quick else jobs
        measure = _rq_erasures(bench, count, fork)
        measure.extra["_jobs"] = int(os.environ.get("BENCH_RQ_JOBS", 0)) or count
        return measure
    return build


case("erasure: 10,000 through one RQ worker, --no-fork (quick: 1,000)", group=JOBS,
     target=_ScaledTarget())(_rq_case(10_000, 1_000, fork=False))
# The default worker forks a work horse per job; measured on fewer jobs (no target: the row above is the target).
case("erasure: 500 through one RQ worker, fork per job (quick: 100)", group=JOBS)(_rq_case(500, 100, fork=True))


# -- export, measured in a child process so its peak RSS is the export's own --

def _memory_probes():
    """The RSS helpers of bench/scrub_bench.py (one copy of the /proc reading code)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import scrub_bench

    return scrub_bench._rss_now_mb, scrub_bench._reset_peak_rss, scrub_bench._peak_rss_since_reset_mb


def child_export(db_kind, clients, request_id):
    """`run.py --child-export ID`: build one export package, print time and memory as JSON."""
    from backoffice import create_app
    from backoffice.extensions import db
    from backoffice.services import export

    _rss_mb, _reset_peak_rss, _peak_rss_mb = _memory_probes()
    app = create_app(bench_config(db_kind, clients))
    with app.app_context():
        db.session.execute(db.select(1))
        db.session.rollback()
        before = _rss_mb()
        reset = _reset_peak_rss()
        started = time.perf_counter()
        result = export.build_export(request_id)
        seconds = time.perf_counter() - started
        peak = _peak_rss_mb() if reset else float("nan")
        Path(db.session.execute(db.text("SELECT path FROM export_package WHERE id = :i"),
                                {"i": result["package_id"]}).scalar()).unlink(missing_ok=True)
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak,
                      "rows": sum(result["counts"].values()), "size": result["size"]}))


def _export_once(bench, client_id):
    import subprocess

    with bench.app.app_context():
        request_id = _access_request(client_id)
    out = subprocess.run([sys.executable, __file__, "--db", bench.db_kind, "--clients", str(bench.clients),
                          "--child-export", str(request_id)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"export child failed: {out.stderr[-400:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def _access_request(client_id):
    from sqlalchemy import insert

    from backoffice.extensions import db
    from backoffice.models import PrivacyRequest

    now = dt.datetime.utcnow()
    request_id = db.session.execute(insert(PrivacyRequest).returning(PrivacyRequest.id), {
        "type": "access", "channel": "email", "status": "approved", "received_at": now, "client_id": client_id,
        "approved_at": now, "created_at": now, "updated_at": now, "version": 1}).scalar()
    db.session.commit()
    return request_id


@case("export: one subject, 10,000 records (child process)", group=JOBS, target=max_ms(2000))
def export_10k(bench):
    with bench.app.app_context():
        (big, _r), = make_subjects(1, 10_000, request_type="access")
        (small, _r), = make_subjects(1, 1_000, request_type="access")
    extra = {}
    peaks = []

    def project():
        result = _export_once(bench, big)
        peaks.append(result["peak_rss_mb"])
        extra["peak RSS 10k"] = f"{max(peaks):.0f} MB"
        extra["rows"] = result["rows"]
        return result["seconds"] * 1000

    small_run = _export_once(bench, small)
    extra["1k"] = f"{small_run['seconds'] * 1000:.0f} ms, peak RSS {small_run['peak_rss_mb']:.0f} MB"
    return Measure(project=project, repeats=3, warmup=False, self_timed=True, extra=extra)


@case("audit: verify the whole chain (≥ N events)", group=JOBS, target=max_ms(10_000))
def audit_verify(bench):
    from backoffice.services import audit

    extra = {}

    def project():
        with bench.app.app_context():
            result = audit.verify()
        assert result.ok, f"chain broken: {result}"
        extra["events"] = f"{result.checked:,}"

    raw = bench.floor_connection

    def floor():
        # The same SELECT, streamed by the driver, nothing hashed: what reading the chain costs.
        if bench.db_kind == "postgresql":
            cursor = raw.driver_connection.cursor(name="bench_verify_floor")
        else:
            cursor = raw.cursor()
        cursor.execute(audit._VERIFY_SQL.format(at=audit._CANONICAL_AT[bench.db_kind]))
        while cursor.fetchmany(10000):
            pass
        cursor.close()
        raw.rollback()

    return Measure(project=project, floor=floor, repeats=3, warmup=False, extra=extra)


@case("scrub: campaign list of 1 M rows (quick: 100 k)", group=JOBS, target=max_ms(10_000))
def scrub_1m(bench):
    """bench/scrub_bench.py's generator and measured phase, on its own database (it drops every table)."""
    import subprocess

    import scrub_bench

    rows = 100_000 if bench.quick else 1_000_000
    clients = 50_000 if bench.quick else 200_000
    workdir = OUT / f"scrub-{bench.db_kind}-{rows}"
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / "recipients.csv"
    if bench.db_kind == "sqlite":
        url = f"sqlite:///{workdir / 'scrub.db'}"
    else:
        schema = f"bench_scrub_{rows}"
        with bench.engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        base = bench.config["SQLALCHEMY_DATABASE_URI"]
        url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    ready = workdir / "ready"
    if not (ready.exists() and csv_path.exists() and ready.read_text() == url):
        bench.echo(f"Preparing the scrub data: {clients:,} clients, {rows:,} CSV rows ...")
        scrub_bench.prepare(url, str(workdir), clients, rows, str(csv_path))
        ready.write_text(url)
    extra = {}

    def project():
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "scrub_bench.py"), "--phase", "scrub",
                              "--database-url", url, "--csv", str(csv_path), "--instance", str(workdir)],
                             cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0, f"scrub failed: {out.stderr[-300:]}"
        line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT"))
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part and not part.startswith("removed"))
        extra["rows/s"] = fields["rows_per_s"]
        extra["peak RSS"] = f"{fields['peak_rss_during_scrub_mb']} MB"
        return float(fields["seconds"]) * 1000

    return Measure(project=project, repeats=3 if bench.quick else 2, warmup=False, self_timed=True, extra=extra)


STATS = "statistics"


def _statistics_case(key):
    """One chart of the statistics page (policy 3.2.3): its aggregate SQL and the Python that shapes it."""
    def build(bench):
        from backoffice.services import statistics

        def project():
            with bench.app.test_request_context("/admin/statistics/"):
                return statistics.chart(key, 12)

        statements = bench.capture(project)
        return Measure(project=project, floor=bench.replay(statements), statements=len(statements))
    return build


for _key in ("requests_by_type", "completion_time", "on_time", "overdue", "rejections", "optouts", "erasures"):
    case(f"statistics: {_key} (12 months)", group=STATS, target=max_ms(200))(_statistics_case(_key))


@case("statistics: the whole page, 7 charts (manager)", group=STATS, target=max_ms(7 * 200))
def statistics_page(bench):
    return bench.page("manager", "/admin/statistics/")

# -- production shape (issue 16): real gunicorn + worker processes over HTTP, bursts, load, memory --

sys.path.insert(0, str(ROOT / "bench"))
import prod_bench  # noqa: E402 - registers into this module's CASES (run.py runs as __main__)

prod_bench.register(sys.modules[__name__])


# ---- running and reporting -------------------------------------------------------------------------------

def _median_ms(fn, repeats, setup=None, samples_out=None, warmup=True, self_timed=False):
    if fn is None:
        return None
    if warmup:
        if setup:
            setup()
        fn()
    samples = []
    for _ in range(repeats):
        if setup:
            setup()
        started = time.perf_counter()
        result = fn()
        samples.append(result if self_timed else (time.perf_counter() - started) * 1000)
    if samples_out is not None:
        samples_out.extend(samples)
    return statistics.median(samples)


def run_case(bench, item, repeats):
    measure = item.build(bench)
    repeats = measure.repeats or repeats
    row = {"case": item.name, "group": item.group}
    samples = []
    timing = {"warmup": measure.warmup, "self_timed": measure.self_timed}
    row["project_ms"] = _median_ms(measure.project, repeats, measure.setup, samples, **timing)
    row["project_samples_ms"] = [round(s, 2) for s in samples]  # the spread shows the machine's noise
    row["floor_ms"] = _median_ms(measure.floor, repeats, measure.setup, **timing)
    row["peer_ms"] = _median_ms(measure.peer, repeats, measure.setup, **timing)
    row["ratio"] = row["project_ms"] / row["floor_ms"] if row["floor_ms"] else None
    row["statements"] = measure.statements
    row["extra"] = measure.extra
    row["target"] = item.target.label if item.target else ""
    row["met"] = item.target.check(row) if item.target else None
    return row


def _fmt(value, digits=1):
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def print_table(rows, out=print):
    notes = any(row.get("extra") for row in rows)  # e.g. peak RSS, jobs/s, or a case's error
    header = ("case", "project ms", "floor ms", "× floor", "stock FA ms", "SQL", "target", "met") + (
        ("notes",) if notes else ())
    lines = [header]
    for row in rows:
        line = (row["case"], _fmt(row["project_ms"]), _fmt(row["floor_ms"], 2),
                "—" if row["ratio"] is None else f"{row['ratio']:.1f}", _fmt(row["peer_ms"]),
                "—" if row["statements"] is None else str(row["statements"]), row["target"],
                {True: "yes", False: "NO", None: ""}[row["met"]])
        if notes:
            line += ("; ".join(f"{k} {v}" for k, v in (row.get("extra") or {}).items()
                               if not k.startswith("_"))[:140],)
        lines.append(line)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out("| " + " | ".join(cells) + " |")
        if n == 0:
            out("|" + "|".join(("-" * (w + 1) + (":" if i else "-")) for i, w in enumerate(widths)) + "|")


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (5 instead of 11)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set even if it exists")
    parser.add_argument("--only", default="", help="run only cases whose name contains this text (a|b: either)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--child-export", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_export:
        child_export(args.db, args.clients, args.child_export)
        return 0
    started = time.perf_counter()
    load_before = os.getloadavg()
    bench = Bench(args.db, args.clients, args.rebuild)
    bench.quick = args.quick
    repeats = args.repeats or (5 if args.quick else 11)
    server = bench.engine.dialect.server_version_info
    print(f"\n{args.db} {'.'.join(map(str, server or ()))}, {args.clients:,} clients, median of {repeats} "
          f"(1 warm-up), {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, load {load_before[0]:.2f}\n")
    rows = []
    for item in CASES:
        if args.only and not any(part in item.name for part in args.only.split("|")):
            continue
        try:
            rows.append(run_case(bench, item, repeats))
        except Exception as error:  # noqa: BLE001 - one broken case must not hide the others' numbers
            rows.append({"case": item.name, "group": item.group, "project_ms": None, "floor_ms": None,
                         "peer_ms": None, "ratio": None, "statements": None, "extra": {"error": repr(error)[:300]},
                         "target": item.target.label if item.target else "", "met": False if item.target else None})
            print(f"  {item.name}: FAILED {error!r}"[:400], file=sys.stderr)
    print_table(rows)
    targeted = [r for r in rows if r["met"] is not None]
    met = sum(1 for r in targeted if r["met"])
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    print(f"\nload average {load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} cores; "
          f"total {elapsed:.0f} s" + (f" (data set built in {bench.build_seconds:.0f} s)" if bench.build_seconds else ""))
    report = {"db": args.db, "server_version": ".".join(map(str, server or ())), "clients": args.clients,
              "repeats": repeats, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": machine(), "load": [load_before, load_after], "build_seconds": bench.build_seconds,
              "elapsed_seconds": elapsed, "rows": rows, "targets_met": met, "targets": len(targeted)}
    suffix = "-partial" if args.only else ""
    (OUT / f"results-{args.db}-{args.clients}{suffix}.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"targets met: {met}/{len(targeted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
