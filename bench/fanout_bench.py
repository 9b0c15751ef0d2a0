"""Issue 11 benchmark: one-subject erasure across three systems, approve → completed, through real RQ workers.

    python bench/fanout_bench.py                 # PostgreSQL back-office + PostgreSQL booking site
    python bench/fanout_bench.py --subjects 21 --workers 2 --db sqlite

Systems: the back-office database, a booking site in its own PostgreSQL database (created here, its own schema),
and a webhook receiver on 127.0.0.1 that answers at once. Workers are real `flask --app wsgi worker` processes on
Redis (default DB 8), in the three worker modes: the supervised pool (the production default, the one the
target is for), --no-fork and fork per job (shown beside it). Each subject is approved through the
lifecycle (`services.steps.take_step(..., "approve")`) and the clock stops when its request row reads `completed` (polled every
2 ms; polling is the bench's, not the product's). The single-system figure (no other system in the map) is
measured the same way beside it. Prints the figures and `targets met: X/Y`.
"""
import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.demo_receiver import Receiver  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.identifiers import name_key, with_control_digit  # noqa: E402
from backoffice.models.clients import Client  # noqa: E402
from backoffice.models.records import Booking  # noqa: E402
from backoffice.models.requests import AWAITING_APPROVAL, COMPLETED, PrivacyRequest  # noqa: E402
from backoffice.models.staff import StaffUser  # noqa: E402
from backoffice.models.systems import SQL, WEBHOOK, DataSystem  # noqa: E402
from backoffice.services import datamap  # noqa: E402
from backoffice.services.steps import take_step  # noqa: E402

TARGET_MS = 150.0
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SITE_SCHEMA = (
    "CREATE TABLE customers (cust_id SERIAL PRIMARY KEY, email_addr VARCHAR(200) NOT NULL UNIQUE, mobile VARCHAR(30), "
    "full_name VARCHAR(200) NOT NULL, loyalty_no VARCHAR(20))",
    "CREATE TABLE trips (trip_id SERIAL PRIMARY KEY, cust_ref INTEGER NOT NULL REFERENCES customers(cust_id), "
    "pnr_code CHAR(6) NOT NULL, passenger VARCHAR(200), amount NUMERIC(12, 2) NOT NULL)",
    "CREATE INDEX ix_customers_mobile ON customers (mobile)",
    "CREATE INDEX ix_customers_email_lower ON customers (lower(email_addr))",
    "CREATE INDEX ix_trips_cust ON trips (cust_ref)",
)
DATASET = {"identifiers": ["email"], "tables": [
    {"table": "customers", "match": {"email": "email_addr", "phone": "mobile"},
     "columns": {"email_addr": "mask", "full_name": "mask", "mobile": "null", "loyalty_no": "keep: Tax Code art. 48"}},
    {"table": "trips", "via": {"column": "cust_ref", "parent": "customers", "parent_column": "cust_id"},
     "columns": {"passenger": "null", "amount": "keep: Law on accounting art. 11"}}]}


def create_database(name):
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name):
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed_subjects(site_url, count, tag):
    """`count` clients awaiting erasure approval, each also a customer with two trips on the booking site."""
    support = StaffUser(email=f"support-{tag}@bench.local", full_name="Bench support", roles="support",
                        password_hash="x")
    manager = StaffUser(email=f"manager-{tag}@bench.local", full_name="Bench manager", roles="manager",
                        password_hash="x")
    db.session.add_all([support, manager])
    db.session.flush()
    site = sa.create_engine(site_url)
    ids = []
    with site.begin() as connection:
        for n in range(count):
            email = f"subject{n}-{tag}@mail.kz"
            phone = f"+770155{n:05d}"
            client = Client(full_name=f"Bench Subject {n}", name_key=name_key(f"Bench Subject {n}"), email=email,
                            email_norm=email, phone=phone, phone_e164=phone,
                            iin=with_control_digit(f"85010130{n:03d}"[:11]))
            client.bookings.append(Booking(pnr=f"B{n:05d}", origin="ALA", destination="NQZ",
                                           flight_date=dt.date(2024, 3, 1), passenger_name=client.full_name,
                                           document_number=f"N{n:08d}", amount=Decimal("45000.00")))
            db.session.add(client)
            db.session.flush()
            request = PrivacyRequest(type="erasure", status=AWAITING_APPROVAL, client_id=client.id,
                                     created_by_id=support.id, identity_method="registered_email",
                                     identity_verified_by_id=support.id, identity_verified_at=dt.datetime.utcnow())
            db.session.add(request)
            db.session.flush()
            ids.append(request.id)
            cust = connection.execute(sa.text(
                "INSERT INTO customers (email_addr, mobile, full_name, loyalty_no) VALUES (:e, :p, :n, 'L-1') "
                "RETURNING cust_id"), {"e": email, "p": phone, "n": client.full_name}).scalar()
            for pnr in ("A", "B"):
                connection.execute(sa.text("INSERT INTO trips (cust_ref, pnr_code, passenger, amount) "
                                           "VALUES (:c, :p, :n, 1000)"), {"c": cust, "p": f"{pnr}{n:05d}",
                                                                          "n": client.full_name.upper()})
    site.dispose()
    db.session.commit()
    return manager, ids


MODES = {  # label → `flask worker` processes to start for `count` workers
    "pool (the default)": lambda count: [["--processes", str(count)]],
    "--no-fork": lambda count: [["--no-fork"]] * count,
    "fork per job": lambda count: [["--fork"]] * count,
}


def start_workers(count, mode, env):
    return [subprocess.Popen(["flask", "--app", "wsgi", "worker", "--without-scheduler", *options], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            for options in MODES[mode](count)]


def stop_workers(workers):
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def time_approvals(app, manager, request_ids, warmup=2):
    """Approve each request in turn; ms from approve() to the row reading completed. First `warmup` dropped."""
    figures = []
    for request_id in request_ids:
        with app.app_context():
            request = db.session.get(PrivacyRequest, request_id)
            manager = db.session.merge(manager)
            started = time.perf_counter()
            take_step(request, "approve", manager, comment="Bench approval")
            db.session.remove()
            engine = db.engine
            deadline = started + 30
            while time.perf_counter() < deadline:
                with engine.connect() as connection:
                    status = connection.execute(sa.text("SELECT status FROM privacy_request WHERE id = :i"),
                                                {"i": request_id}).scalar()
                if status == COMPLETED:
                    break
                time.sleep(0.002)
            else:
                raise RuntimeError(f"request {request_id} not completed within 30 s (status {status})")
            figures.append((time.perf_counter() - started) * 1000)
    return figures[warmup:]


def run(args):
    tag = uuid.uuid4().hex[:6]
    site_db = f"bo_systems_bench_site_{tag}"
    site_url = create_database(site_db)
    backoffice_db = f"bo_systems_bench_{tag}"
    instance = Path(tempfile.mkdtemp(prefix="fanout-bench-"))
    if args.db == "postgresql":
        url = create_database(backoffice_db)
    else:
        url = f"sqlite:///{instance / 'backoffice.db'}"
    queue = f"bench-fanout-{tag}"
    secret = "bench-secret"
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=args.redis, BACKOFFICE_RQ_QUEUE=queue,
               BACKOFFICE_INSTANCE_PATH=str(instance), SECRET_KEY="bench", BACKOFFICE_HASH_KEY="bench",
               BENCH_SITE_URL=site_url, BENCH_MAILER_SECRET=secret, BACKOFFICE_EXPORT_DIR=str(instance / "exports"))
    os.environ.update(BENCH_SITE_URL=site_url, BENCH_MAILER_SECRET=secret)
    config = {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis, "RQ_QUEUE": queue, "SECRET_KEY": "bench",
              "BACKOFFICE_HASH_KEY": "bench", "INSTANCE_PATH": str(instance), "EXPORT_DIR": str(instance / "exports")}
    app = create_app(config)
    receiver = Receiver(secret).start()
    results = {}
    try:
        engine = sa.create_engine(site_url)
        with engine.begin() as connection:
            for statement in SITE_SCHEMA:
                connection.execute(sa.text(statement))
        engine.dispose()
        with app.app_context():
            db.create_all()
            datamap.ensure_backoffice_system()
            db.session.commit()
        for number, mode in enumerate(MODES):
            workers = start_workers(args.workers, mode, env)
            try:
                time.sleep(2)  # workers registering with Redis; not part of any figure
                with app.app_context():
                    for system in db.session.execute(sa.select(DataSystem).where(DataSystem.kind != "backoffice")):
                        db.session.delete(system[0])
                    db.session.commit()
                    manager, single_ids = seed_subjects(site_url, args.subjects, f"{tag}s{number}")
                results[f"1 system (back-office only), {mode}"] = time_approvals(app, manager, single_ids)
                with app.app_context():
                    db.session.add(datamap.validate(DataSystem(
                        name="Booking site", owner="Web", kind=SQL, connection_env="BENCH_SITE_URL",
                        request_types=["erasure"], dataset=DATASET)))
                    db.session.add(datamap.validate(DataSystem(
                        name="Mailer", owner="Marketing", kind=WEBHOOK, webhook_url=receiver.url,
                        secret_env="BENCH_MAILER_SECRET", request_types=["erasure"], dataset={"identifiers": ["email"]})))
                    db.session.commit()
                    manager, fan_ids = seed_subjects(site_url, args.subjects, f"{tag}f{number}")
                results[f"3 systems (back-office + booking-site PostgreSQL + webhook), {mode}"] = time_approvals(
                    app, manager, fan_ids)
                with app.app_context():
                    for system in db.session.execute(sa.select(DataSystem).where(DataSystem.kind != "backoffice")):
                        db.session.delete(system[0])
                    db.session.execute(sa.text("DELETE FROM system_task"))
                    db.session.commit()
            finally:
                stop_workers(workers)
    finally:
        receiver.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(site_db)
        if args.db == "postgresql":
            drop_database(backoffice_db)
    met = total = 0
    print(f"fan-out erasure, approve → completed ({args.db} back-office, {args.workers} RQ workers, "
          f"{args.subjects - 2} timed subjects per row, first 2 dropped as warm-up)")
    for label, figures in results.items():
        median = statistics.median(figures)
        line = f"  {label}: median {median:.0f} ms, p90 {sorted(figures)[int(len(figures) * 0.9) - 1]:.0f} ms"
        if label.startswith("3 systems") and label.endswith("pool (the default)"):
            total += 1
            ok = median <= TARGET_MS
            met += ok
            line += f"  target ≤ {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}"
        print(line)
    print(f"targets met: {met}/{total}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    run(parser.parse_args())


if __name__ == "__main__":
    main()
