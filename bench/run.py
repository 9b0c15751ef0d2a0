"""The benchmark suite of issue 7: one table row per case, project vs the raw-SQL floor vs stock Flask-Admin.

    python bench/run.py --db sqlite --clients 100000 --quick
    python bench/run.py --db postgresql --clients 1000000

A case is a small function registered with @case(...) that returns a Measure: what to time for the project,
optionally the raw-SQL floor for the same work and a peer (stock Flask-Admin) to compare with, and a target.
See docs/bench.md.
"""
import argparse
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

class Bench:
    """The project app with logged-in test clients per role, the stock Flask-Admin peer, and the data set."""

    def __init__(self, db_kind, clients, rebuild, echo=print):
        from backoffice import create_app

        self.db_kind = db_kind
        self.clients = clients
        self.echo = echo
        OUT.mkdir(parents=True, exist_ok=True)
        config = {
            "INSTANCE_PATH": str(OUT / "instance"),
            "SECRET_KEY": "bench-only-secret",
            "BACKOFFICE_HASH_KEY": "bench-only-hash-key",
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL") or None,
        }
        if db_kind == "sqlite":
            config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{OUT / f'bench-{clients}.db'}"
        else:
            # One schema per data-set size inside the bench database, so 100 k and 1 M sets can coexist.
            config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("BENCH_DATABASE_URL", PG_DEFAULT_URL)
            self.schema = f"bench_{clients}"
            config["SQLALCHEMY_ENGINE_OPTIONS"] = {
                "pool_pre_ping": True, "connect_args": {"options": f"-csearch_path={self.schema}"}}
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

        from backoffice.cli_bench import load_bench_data

        if self.db_kind == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"))
        if not rebuild:
            try:
                have = self.db.session.execute(text("SELECT count FROM audit_chain_head WHERE id = 1")).scalar()
                top = self.db.session.execute(text("SELECT max(id) FROM client")).scalar()
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
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            cursor.close()
            raw.rollback()
        return run

    # the project, logged in
    def as_role(self, role):
        if role not in self._logins:
            from backoffice.cli_bench import ensure_bench_staff

            with self.app.app_context():
                users, password = ensure_bench_staff()
                email = users[role].email
            client = self.app.test_client()
            response = client.post("/login", data={"email": email, "password": password})
            assert response.status_code == 302, f"bench login as {role} failed ({response.status_code})"
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

        peer = Flask("stock_flask_admin")
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

        def project():
            response = client.get(url)
            assert response.status_code == 200, f"{url} → {response.status_code}"
            if expect is not None:
                assert expect in response.get_data(as_text=True), f"{url}: expected row missing"
            return response

        project()  # warm caches before capturing
        statements = self.capture(project)
        peer = None
        if peer_url is not None:
            def peer():
                response = self.peer.get(peer_url)
                assert response.status_code == 200, f"{peer_url} → {response.status_code}"
                return response
        return Measure(project=project, floor=self.replay(statements), peer=peer, statements=len(statements))

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
    return bench.page("support", f"/admin/clients/?page={page}", f"/peer/clients/?page={page}",
                      expect=_details(cursor - 1))


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


# ---- running and reporting -------------------------------------------------------------------------------

def _median_ms(fn, repeats, setup=None, samples_out=None):
    if fn is None:
        return None
    if setup:
        setup()
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        if setup:
            setup()
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    if samples_out is not None:
        samples_out.extend(samples)
    return statistics.median(samples)


def run_case(bench, item, repeats):
    measure = item.build(bench)
    repeats = measure.repeats or repeats
    row = {"case": item.name, "group": item.group}
    samples = []
    row["project_ms"] = _median_ms(measure.project, repeats, measure.setup, samples)
    row["project_samples_ms"] = [round(s, 2) for s in samples]  # the spread shows the machine's noise
    row["floor_ms"] = _median_ms(measure.floor, repeats, measure.setup)
    row["peer_ms"] = _median_ms(measure.peer, repeats, measure.setup)
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
            line += ("; ".join(f"{k} {v}" for k, v in (row.get("extra") or {}).items())[:80],)
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
    parser.add_argument("--only", default="", help="run only cases whose name contains this text")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()
    bench = Bench(args.db, args.clients, args.rebuild)
    repeats = args.repeats or (5 if args.quick else 11)
    server = bench.engine.dialect.server_version_info
    print(f"\n{args.db} {'.'.join(map(str, server or ()))}, {args.clients:,} clients, median of {repeats} "
          f"(1 warm-up), {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, load {load_before[0]:.2f}\n")
    rows = []
    for item in CASES:
        if args.only and args.only not in item.name:
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
