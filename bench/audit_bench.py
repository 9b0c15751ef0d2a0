"""Audit log benchmark (policy 4.3): cost of audit.record per call, audit-verify and the supervisor list at 1 M events.

    python bench/audit_bench.py                         # SQLite only
    python bench/audit_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1/h_audit
    python bench/audit_bench.py --events 200000 --records 500   # quicker

PostgreSQL runs in a throw-away schema (search_path), so the database's own tables are untouched.
The 1 M-event chain is generated directly (hashes computed in Python, rows loaded with COPY / executemany), then
walked by the real verify(). Prints a Markdown table; copy the figures into docs/audit.md.
"""
import argparse
import datetime as dt
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.models.audit import GENESIS_HASH, SQLITE_TRIGGERS  # noqa: E402
from backoffice.models.staff import StaffUser  # noqa: E402
from backoffice.services import audit  # noqa: E402

COLUMNS = ("at", "actor_id", "actor_roles", "action", "object_type", "object_id", "request_id", "outcome", "ip",
           "details", "prev_hash", "hash")
ACTIONS = [("client.read_full_record", "client"), ("auth.login", "staff_user"), ("auth.logout", "staff_user"),
           ("request.transition", "privacy_request"), ("optout.create", "marketing_optout"),
           ("export.download", "privacy_request"), ("job.run", "job"), ("auth.login_failed", "staff_user"),
           ("erasure.execute", "client"), ("staff.update", "staff_user")]


def generate_chain(n, chunk=50000, seed=4):
    """Yield lists of row tuples forming one valid chain of n events (COLUMNS order)."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1)
    prev = GENESIS_HASH
    batch = []
    for i in range(n):
        action, object_type = ACTIONS[rng.randrange(len(ACTIONS))]
        actor = rng.randint(1, 60)
        request_id = rng.randint(1, 50000) if object_type == "privacy_request" else None
        details = json.dumps({"purpose": "view"}, separators=(",", ":")) if object_type == "client" else None
        outcome = "failure" if action == "auth.login_failed" else "success"
        values = (start + dt.timedelta(milliseconds=30 * i), actor, rng.choice(["support", "manager", "supervisor"]),
                  action, object_type, str(rng.randint(1, 300000)), request_id, outcome,
                  f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 250)}", details, prev)
        digest = hashlib.sha256(audit.canonical_values(*values)).hexdigest()
        batch.append(values + (digest,))
        prev = digest
        if len(batch) == chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def load_chain(app, n):
    """Bulk-load a valid chain and point the head at its end (the head's guard is lifted only for this)."""
    with app.app_context():
        engine = db.engine
        last, count = GENESIS_HASH, 0
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                with cursor.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for batch in generate_chain(n):
                        for row in batch:
                            copy.write_row(row)
                        last, count = batch[-1][-1], count + len(batch)
                cursor.execute("ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_guard")
                cursor.execute("INSERT INTO audit_chain_head (id, last_hash, count) VALUES (1, %s, %s)", (last, count))
                cursor.execute("ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_guard")
                cursor.execute("ANALYZE audit_event")
                raw.commit()
            finally:
                raw.close()
        else:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                sql = f"INSERT INTO audit_event ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
                for batch in generate_chain(n):
                    cursor.executemany(sql, [(r[0].isoformat(sep=" ", timespec="microseconds"),) + r[1:]
                                             for r in batch])
                    last, count = batch[-1][-1], count + len(batch)
                cursor.execute("DROP TRIGGER audit_chain_head_insert")
                cursor.execute("INSERT INTO audit_chain_head (id, last_hash, count) VALUES (1, ?, ?)", (last, count))
                cursor.execute(SQLITE_TRIGGERS[2])
                cursor.execute("ANALYZE")
                raw.commit()
            finally:
                raw.close()
    return count


def bench_record(app, calls):
    """Median µs of audit.record (flush included) and of record + commit, each call its own transaction."""
    with app.app_context():
        staff = StaffUser(email=f"bench-{uuid.uuid4().hex[:6]}@bench.local", password_hash="x", roles="support")
        db.session.add(staff)
        db.session.commit()
        # As in a request, the actor is already loaded: keep its reload after each commit out of the figure.
        db.session.refresh(staff)
        db.session.expunge(staff)
        record_only, with_commit = [], []
        for i in range(calls):
            t0 = time.perf_counter()
            audit.record("client.read_full_record", object_type="client", object_id=i, actor=staff,
                         details={"purpose": "view"}, ip="10.0.0.1")
            t1 = time.perf_counter()
            db.session.commit()
            t2 = time.perf_counter()
            record_only.append((t1 - t0) * 1e6)
            with_commit.append((t2 - t0) * 1e6)
        db.session.remove()
    return statistics.median(record_only), statistics.median(with_commit)


def bench_verify(app):
    with app.app_context():
        t0 = time.perf_counter()
        result = audit.verify()
        seconds = time.perf_counter() - t0
        db.session.remove()
    assert result.ok, result
    return seconds, result.checked


def bench_list(app, repeats=5):
    """Median ms of the supervisor's list pages (the whole request: query + render)."""
    with app.app_context():
        supervisor = StaffUser(email=f"sup-{uuid.uuid4().hex[:6]}@bench.local", roles="supervisor",
                               password_hash=__import__("backoffice.services.staff", fromlist=["x"]).hash_password(
                                   "bench-password-1"))
        db.session.add(supervisor)
        db.session.commit()
        view = next(v for v in app.extensions["backoffice_admin"]._views if getattr(v, "endpoint", None) == "audit")
        idx = {f"{f.column.key}:{f.operation()}": i for i, f in enumerate(view._filters)}
        client = app.test_client()
        client.post("/login", data={"email": supervisor.email, "password": "bench-password-1"})
        pages = {
            "list, newest first": "/admin/audit/",
            "list, page 200": "/admin/audit/?page=200",
            "filter actor": f"/admin/audit/?flt0_{idx['actor_id:equals']}=17",
            "filter action": f"/admin/audit/?flt0_{idx['action:equals']}=erasure.execute",
            "filter object": f"/admin/audit/?flt0_{idx['object_type:equals']}=client"
                             f"&flt1_{idx['object_id:equals']}=4242",
            "filter request": f"/admin/audit/?flt0_{idx['request_id:equals']}=777",
            "filter date range": f"/admin/audit/?flt0_{idx['at:between']}="
                                 "2025-01-03 00:00:00 to 2025-01-03 12:00:00",
        }
        timings = {}
        for name, url in pages.items():
            samples = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            timings[name] = statistics.median(samples)
        db.session.remove()
    return timings


def make_app(url, instance):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                       "BACKOFFICE_HASH_KEY": "bench", "WTF_CSRF_ENABLED": False, "TESTING": True})


def run(label, url, events, calls, instance):
    app = make_app(url, instance)
    with app.app_context():
        db.create_all()
    rec, rec_commit = bench_record(app, calls)
    # A fresh chain for the big walk: the records above would sit in front of it.
    with app.app_context():
        db.drop_all()
        db.create_all()
    t0 = time.perf_counter()
    loaded = load_chain(app, events)
    load_s = time.perf_counter() - t0
    verify_s, checked = bench_verify(app)
    pages = bench_list(app)
    with app.app_context():
        db.engine.dispose()
    return {"backend": label, "record_us": rec, "record_commit_us": rec_commit, "events": loaded, "load_s": load_s,
            "verify_s": verify_s, "checked": checked, "pages": pages}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=2000, help="audit.record calls to time")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"),
                        help="PostgreSQL URL (a temporary schema is created and dropped)")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sqlite:
            results.append(run("SQLite", f"sqlite:///{tmp}/bench.db", args.events, args.records, tmp))
            print(f"SQLite done: {results[-1]}", file=sys.stderr)
        if args.postgres:
            schema = f"audit_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                separator = "&" if "?" in args.postgres else "?"
                url = f"{args.postgres}{separator}options=-csearch_path%3D{schema}"
                results.append(run("PostgreSQL", url, args.events, args.records, tmp))
                print(f"PostgreSQL done: {results[-1]}", file=sys.stderr)
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

    print(f"\n### Audit log ({args.events:,} events; {args.records:,} record calls)\n")
    print("| | " + " | ".join(r["backend"] for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    rows = [
        ("audit.record, median µs (flush, no commit)", lambda r: f"{r['record_us']:,.0f}"),
        ("audit.record + commit, median µs", lambda r: f"{r['record_commit_us']:,.0f}"),
        (f"audit-verify over {args.events:,} events, s", lambda r: f"{r['verify_s']:.2f}"),
        ("verify throughput, events/s", lambda r: f"{r['checked'] / r['verify_s']:,.0f}"),
        ("bulk load of the test chain, s (setup only)", lambda r: f"{r['load_s']:.1f}"),
    ]
    for name in (results[0]["pages"] if results else {}):
        rows.append((f"supervisor list: {name}, median ms", lambda r, n=name: f"{r['pages'][n]:.0f}"))
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell(r) for r in results) + " |")


if __name__ == "__main__":
    main()
