"""The daily retention run over a large data set (issue 15): time ≤ 60 s, memory flat as the data grows.

    python bench/retention_bench.py --db sqlite --clients 100000 1000000
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/<scratch db> \
        python bench/retention_bench.py --db postgresql --clients 100000 1000000

Per size: builds (set-based, untimed) N clients (2 % blocked), N bookings issued over the last ten years, N/2
support messages over the last six and N/10 closed privacy requests, so that about half of every record type is
past its period; then runs `services.retention_runs.run()` in a fresh subprocess (so the peak RSS is the run's own)
and checks that exactly the expected rows changed and that a second run changes nothing.
The PostgreSQL run DROPS AND RECREATES every table in the database it is given: use a scratch database.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = "2026-06-15"
TIME_TARGET_S = 60.0
RSS_GROWTH = 1.25  # the largest size's peak RSS may be at most this × the smallest's (+ 10 MB slack)


def _app(database_url, instance):
    from backoffice import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                       "BACKOFFICE_HASH_KEY": "bench-hash-key", "TESTING": True})


SQLITE_SEED = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
{insert} SELECT {columns} FROM n
"""


def _seed_sql(dialect, clients):
    """(statement, params) per table; dates spread deterministically with (i * 7919) mod period."""
    if dialect == "postgresql":
        source = "FROM generate_series(1::bigint, :count) AS n(i)"  # bigint: i * 7919 overflows int4
        day = "(DATE '{today}' - ((i * 7919) % {days})::int)"
        stamp = "(TIMESTAMP '{today}' - ((i * 7919) % {days}) * INTERVAL '1 day' - (i % 86400) * INTERVAL '1 second')"
    else:
        source = None
        day = "date('{today}', '-' || ((i * 7919) % {days}) || ' days')"
        stamp = ("(datetime('{today}', '-' || ((i * 7919) % {days}) || ' days', '-' || (i % 86400) || ' seconds')"
                 " || '.000000')")

    def when(template, days):
        return template.format(today=TODAY, days=days)

    now = "'2026-06-15 00:00:00'" if dialect == "sqlite" else "TIMESTAMP '2026-06-15'"
    tables = [
        ("client", "id, full_name, preferred_language, status, source, created_at, updated_at, version",
         f"i, 'Client ' || i, 'ru', CASE WHEN i % 50 = 0 THEN 'blocked' ELSE 'active' END, 'registration', "
         f"{now}, {now}, 1", clients),
        ("booking", "id, client_id, pnr, origin, destination, flight_date, passenger_name, document_number, amount, "
                    "currency, issued_at, source",
         f"i, i, 'P' || (i % 99999), 'ALA', 'NQZ', {when(day, 3650)}, 'Passenger ' || i, 'N' || i, 1000, 'KZT', "
         f"{when(stamp, 3650)}, 'service_use'", clients),
        ("communication", "id, client_id, channel, direction, subject, body, sent_at, source",
         f"i, i * 2, 'email', 'inbound', 'Subject', 'Message ' || i, {when(stamp, 2190)}, 'service_use'",
         clients // 2),
        ("privacy_request", "id, type, channel, status, received_at, client_id, requester_name, requester_email, "
                            "description, created_at, updated_at, completed_at, version",
         f"i, 'access', 'email', 'completed', {when(stamp, 3650)}, i * 10, 'Requester ' || i, 'r' || i || '@mail.kz', "
         f"'Please send', {now}, {now}, {when(stamp, 3650)}, 1", clients // 10),
    ]
    statements = []
    for table, columns, values, count in tables:
        if dialect == "postgresql":
            sql = f"INSERT INTO {table} ({columns}) SELECT {values} {source}"
        else:
            sql = SQLITE_SEED.format(insert=f"INSERT INTO {table} ({columns})", columns=values)
        statements.append((sql, {"count": count}))
    return statements


def prepare(database_url, instance, clients):
    from sqlalchemy import text

    from backoffice.extensions import db
    from backoffice.services.retention import ensure_default_rules

    app = _app(database_url, instance)
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        for sql, params in _seed_sql(db.engine.dialect.name, clients):
            db.session.execute(text(sql), params)
        ensure_default_rules()
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        return time.perf_counter() - started


def expected(database_url, instance):
    """What the run must change, counted with plain SQL independently of the service."""
    from sqlalchemy import text

    from backoffice.extensions import db

    app = _app(database_url, instance)
    with app.app_context():
        blocked = "NOT EXISTS (SELECT 1 FROM client c WHERE c.id = t.client_id AND c.status = 'blocked')"
        return {
            "booking": db.session.execute(text(
                f"SELECT count(*) FROM booking t WHERE issued_at < :b AND flight_date < :today AND {blocked}"),
                {"b": "2021-06-15 00:00:00.000000", "today": TODAY}).scalar(),
            "communication": db.session.execute(text(
                f"SELECT count(*) FROM communication t WHERE sent_at < :c AND {blocked}"),
                {"c": "2023-06-15 00:00:00.000000"}).scalar(),
            "privacy_request": db.session.execute(text(
                f"SELECT count(*) FROM privacy_request t WHERE completed_at < :b AND {blocked}"),
                {"b": "2021-06-15 00:00:00.000000"}).scalar(),
        }


def run_once(database_url, instance):
    """In a fresh process: one retention run; prints seconds, peak RSS (MB) and the rows per record type."""
    import datetime as dt

    from backoffice.services import retention_runs

    app = _app(database_url, instance)
    with app.app_context():
        started = time.perf_counter()
        run = retention_runs.run(today=dt.date.fromisoformat(TODAY), trigger="bench")
        seconds = time.perf_counter() - started
        report = run.report
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": rss_mb,
                      "rows": {item["record_type"]: item["rows"] for item in report},
                      "batches": {item["record_type"]: item["batches"] for item in report}}))


def _child(database_url, instance):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, __file__, "--child", database_url, instance], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, nargs="+", default=[100_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_once(*args.child)
    instance = tempfile.mkdtemp(prefix="retention-bench-")
    if args.db == "postgresql":
        database_url = os.environ.get("BENCH_DATABASE_URL")
        if not database_url:
            raise SystemExit("set BENCH_DATABASE_URL to a scratch PostgreSQL database (its tables are dropped)")
    else:
        database_url = f"sqlite:///{Path(instance) / 'retention.db'}"
    print(f"retention bench on {args.db}; load average {os.getloadavg()[0]:.2f}")
    results, met, total = [], 0, 0
    for clients in args.clients:
        seed_s = prepare(database_url, instance, clients)
        want = expected(database_url, instance)
        first = _child(database_url, instance)
        second = _child(database_url, instance)
        exact = first["rows"] == want and not any(second["rows"].values())
        results.append((clients, first, exact))
        print(f"{clients:>9,} clients (seeded in {seed_s:.1f} s): run {first['seconds']:.1f} s, peak RSS "
              f"{first['rss_mb']:.0f} MB, rows {first['rows']}, batches {first['batches']}; exact={exact}; "
              f"second run {second['seconds']:.1f} s changed {sum(second['rows'].values())}")
        total += 2
        met += first["seconds"] <= TIME_TARGET_S
        met += exact
    if len(results) > 1:
        small, large = results[0][1]["rss_mb"], results[-1][1]["rss_mb"]
        flat = large <= small * RSS_GROWTH + 10
        print(f"peak RSS {small:.0f} MB at {results[0][0]:,} → {large:.0f} MB at {results[-1][0]:,}: "
              f"{'flat' if flat else 'GROWS'}")
        total += 1
        met += flat
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"targets met: {met}/{total}")


if __name__ == "__main__":
    main()
