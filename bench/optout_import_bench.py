"""The opt-out CSV import as a job (issue 13; policy 3.2.2): the web request's share, the job's throughput, and how
long it holds the database while a colleague keeps writing.

    python bench/optout_import_bench.py --rows 800000           # ≈ 20 MB, the file of issue 13, on SQLite
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/<scratch db> \
        python bench/optout_import_bench.py --rows 800000 --db postgresql

Builds --clients clients (half with marketing consent) and a CSV of --rows opt-outs (60 % known clients' e-mails, a
third of them with the phone too, channels mixed; the rest strangers), then runs what the upload page runs
(`optout_import_runs.start`: store, check every line and the header, queue) and the job (`import_opt_outs`) in the
embedded worker, while a thread writes one row every 50 ms in its own transaction, as a colleague's page would.
Targets: the web request ≤ 3 s; no batch transaction of the job longer than 1 s; the colleague's writes never wait
more than 2 s and never fail with "database is locked" (SQLite's busy timeout is 10 s).
The PostgreSQL run DROPS AND RECREATES every table of the database it is given: use a scratch database.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REQUEST_TARGET_S = 3.0
BATCH_TARGET_S = 1.0
WRITER_WAIT_TARGET_S = 2.0


class Upload:
    """What the upload form hands the service: a file that can be saved."""

    def __init__(self, path):
        self.path = path

    def save(self, target):
        shutil.copyfile(self.path, target)


def prepare(app, clients, rows, csv_path, seed=2026):
    from sqlalchemy import insert, text

    from backoffice.extensions import db
    from backoffice.models.clients import Client
    from backoffice.models.consent import Consent

    rng = random.Random(seed)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.execute(text("DROP TABLE IF EXISTS bench_writer"))
        db.session.execute(text("CREATE TABLE bench_writer (at FLOAT)"))
        people, consents = [], []
        for i in range(1, clients + 1):
            people.append({"id": i, "full_name": f"Client {i}", "email": f"client{i}@mail.kz",
                           "email_norm": f"client{i}@mail.kz", "phone": f"+7701{i:07d}", "phone_e164": f"+7701{i:07d}",
                           "status": "active", "source": "registration", "preferred_language": "ru", "version": 1})
            if i % 2:
                consents.append({"client_id": i, "purpose": "marketing", "source": "registration"})
        for start in range(0, len(people), 10000):
            db.session.execute(insert(Client), people[start:start + 10000])
        for start in range(0, len(consents), 10000):
            db.session.execute(insert(Consent), consents[start:start + 10000])
        db.session.commit()
        db.engine.dispose()
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        handle.write("email,phone,channel,reason\r\n")
        for n in range(rows):
            channel = rng.choice(("all", "email", "sms", ""))
            if rng.random() < 0.6:
                i = rng.randint(1, clients)
                phone = f"8 701 {i:07d}" if rng.random() < 0.33 else ""
                handle.write(f"client{i}@mail.kz,{phone},{channel},unsubscribe link\r\n")
            else:
                handle.write(f"stranger{n}@gmail.com,,{channel},\r\n")


class Colleague(threading.Thread):
    """Writes one row every 50 ms in its own short transaction and notes how long each had to wait."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app, self.stop, self.waits, self.errors = app, threading.Event(), [], 0

    def run(self):
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from backoffice.extensions import db

        with self.app.app_context():
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    with db.engine.begin() as connection:
                        connection.execute(text("INSERT INTO bench_writer (at) VALUES (:at)"), {"at": time.time()})
                    self.waits.append(time.perf_counter() - started)
                except SQLAlchemyError:  # "database is locked", or anything else that refused the write
                    self.errors += 1
                time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()

    from backoffice import create_app
    from backoffice.extensions import db
    from backoffice.models.optouts import OptOutImport
    from backoffice.services import optout_import, optout_import_runs

    workdir = tempfile.mkdtemp(prefix="import-bench-")
    if args.db == "sqlite":
        database_url = f"sqlite:///{workdir}/bench.db"
    else:
        database_url = os.environ.get("BENCH_DATABASE_URL")
        if not database_url or not database_url.startswith("postgresql"):
            parser.error("--db postgresql needs BENCH_DATABASE_URL (a scratch database)")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": workdir, "SECRET_KEY": "bench",
                      "BACKOFFICE_HASH_KEY": "bench-hash-key", "REDIS_URL": None, "TESTING": True})
    csv_path = os.path.join(workdir, "optouts.csv")
    try:
        started = time.perf_counter()
        prepare(app, args.clients, args.rows, csv_path)
        size_mb = os.path.getsize(csv_path) / 2**20
        print(f"prepared {args.rows:,} rows ({size_mb:.1f} MB), {args.clients:,} clients in "
              f"{time.perf_counter() - started:.1f} s on {args.db}; load average {os.getloadavg()[0]:.2f}")

        batches, phases = [], {}
        real_batch, real_check = optout_import_runs._apply_batch, optout_import.check

        def timed_batch(*a, **kw):
            began = time.perf_counter()
            try:
                return real_batch(*a, **kw)
            finally:
                batches.append(time.perf_counter() - began)

        def timed_check(*a, **kw):
            began = time.perf_counter()
            try:
                return real_check(*a, **kw)
            finally:
                phases["check"] = time.perf_counter() - began

        optout_import_runs._apply_batch, optout_import.check = timed_batch, timed_check
        with app.app_context():
            began = time.perf_counter()
            run = optout_import_runs.start(Upload(csv_path), by=None)
            request_s = time.perf_counter() - began
            run_id = run.id
        colleague = Colleague(app)
        colleague.start()
        began = time.perf_counter()
        app.extensions["embedded_worker"].drain()
        job_s = time.perf_counter() - began
        colleague.stop.set()
        colleague.join()
        with app.app_context():
            run = db.session.get(OptOutImport, run_id)
            status, done, added, merged = run.status, run.rows_done, run.added, run.merged
        apply_s = sum(batches)
        longest = max(batches) if batches else 0.0
        longest_wait = max(colleague.waits) if colleague.waits else 0.0
        print(f"web request (store, check every line and the header, queue): {request_s:.2f} s")
        print(f"job: {status}, {done:,} rows ({added:,} added, {merged:,} already listed) in {job_s:.1f} s = "
              f"{done / job_s:,.0f} rows/s; check {phases.get('check', 0):.1f} s, import {apply_s:.1f} s in "
              f"{len(batches)} batches of {optout_import_runs.BATCH_SIZE} (longest {longest:.2f} s, "
              f"median {sorted(batches)[len(batches) // 2] if batches else 0:.2f} s)")
        print(f"colleague: {len(colleague.waits):,} writes during the job, longest {longest_wait:.2f} s, "
              f"{colleague.errors} failed")
        with app.app_context():
            from sqlalchemy import text

            db.session.execute(text("DROP TABLE bench_writer"))
            db.session.commit()
        print(f"load average {os.getloadavg()[0]:.2f}")
        checks = [request_s <= REQUEST_TARGET_S, longest <= BATCH_TARGET_S,
                  bool(colleague.waits) and longest_wait <= WRITER_WAIT_TARGET_S and colleague.errors == 0,
                  status == "done"]
        print(f"targets met: {sum(checks)}/{len(checks)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
