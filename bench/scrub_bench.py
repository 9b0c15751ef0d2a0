"""Campaign-list scrub throughput and peak memory (issue 5; policy 3.2.2).

    python bench/scrub_bench.py --rows 1000000 --db sqlite
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/<scratch db> \
        python bench/scrub_bench.py --rows 1000000 --db postgresql

Builds a database of --clients clients (some blocked, some erased, most with marketing consent, some on the
suppression list) and a CSV of --rows intended recipients (known clients, strangers, a few broken addresses), then
scrubs it in a fresh subprocess so that the peak RSS (resource.getrusage) is the scrub's own, not the generator's.
The PostgreSQL run DROPS AND RECREATES every table in the database it is given: use a scratch database.
"""
import argparse
import csv
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _app(database_url, instance):
    from backoffice import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                       "BACKOFFICE_HASH_KEY": "bench-hash-key", "TESTING": True})


def _email(i):
    return f"client{i}@mail.kz"


def _phone(i):
    return f"+7701{i:07d}"


def prepare(database_url, instance, clients, rows, csv_path, seed=2026):
    """Fill the database and write the recipients' CSV; returns the expected composition."""
    from sqlalchemy import insert

    from backoffice.extensions import db
    from backoffice.models.clients import Client
    from backoffice.models.consent import Consent
    from backoffice.models.optouts import MarketingOptOut
    from backoffice.services.optouts import address_hash

    rng = random.Random(seed)
    app = _app(database_url, instance)
    with app.app_context():
        db.drop_all()
        db.create_all()
        batch, consents, opt_outs = [], [], []
        for i in range(1, clients + 1):
            roll = rng.random()
            status = "blocked" if roll < 0.02 else "erased" if roll < 0.04 else "active"
            erased = status == "erased"
            batch.append({"id": i, "full_name": None if erased else f"Client {i}",
                          "email_norm": None if erased else _email(i), "email": None if erased else _email(i),
                          "phone_e164": None if erased else _phone(i), "phone": None if erased else _phone(i),
                          "status": status, "source": "registration", "preferred_language": "ru", "version": 1})
            if status == "active" and rng.random() < 0.7:
                consents.append({"client_id": i, "purpose": "marketing", "source": "registration"})
            if erased or rng.random() < 0.05:
                opt_outs.append({"email_hash": address_hash(_email(i)), "phone_hash": address_hash(_phone(i)),
                                 "channel": "all", "source": "privacy_request" if erased else "unsubscribe_link",
                                 "client_id": i})
            if len(batch) >= 10000:
                db.session.execute(insert(Client), batch)
                batch.clear()
        if batch:
            db.session.execute(insert(Client), batch)
        for chunk in range(0, len(consents), 10000):
            db.session.execute(insert(Consent), consents[chunk:chunk + 10000])
        for chunk in range(0, len(opt_outs), 10000):
            db.session.execute(insert(MarketingOptOut), opt_outs[chunk:chunk + 10000])
        db.session.commit()
        # Planner statistics and (PostgreSQL) the visibility map, as autovacuum would have them after a bulk load.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        db.engine.dispose()

    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["recipient_id", "name", "email", "phone", "segment"])
        for n in range(rows):
            roll = rng.random()
            if roll < 0.6:
                i = rng.randint(1, clients)
                email = _email(i) if rng.random() < 0.8 else _email(i).upper()
                phone = f"8 701 {str(i).zfill(7)[:3]} {str(i).zfill(7)[3:5]} {str(i).zfill(7)[5:]}"
            elif roll < 0.99:
                i = clients + n + 1
                email, phone = f"stranger{n}@gmail.com", _phone(i % 10_000_000)
            else:
                email, phone = "not an address", ""
            writer.writerow([n, f"Recipient {n}", email, phone, rng.choice(["b2b", "loyal", "new"])])
    return {"clients": clients, "consents": len(consents), "opt_outs": len(opt_outs)}


def _rss_now_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss():
    """Reset the kernel's peak-RSS mark (VmHWM) so it covers the scrub only; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_since_reset_mb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_scrub(database_url, instance, csv_path, email_column, phone_column, channel, processes=1):
    """The measured part: runs in its own process; prints one result line."""
    from backoffice.extensions import db
    from backoffice.services import scrub

    app = _app(database_url, instance)
    with app.app_context():
        db.session.execute(db.select(1))  # connect before measuring
        rss_before = _rss_now_mb()
        reset = _reset_peak_rss()
        out_path = csv_path + ".out"
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        with open(csv_path, newline="", encoding="utf-8") as incoming, \
                open(out_path, "w", newline="", encoding="utf-8") as outgoing:
            result = scrub.scrub_rows(csv.reader(incoming), csv.writer(outgoing), email_column, phone_column,
                                      channel, processes=processes)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker processes, once they have exited
        cpu = (usage.ru_utime - cpu_before.ru_utime) + (usage.ru_stime - cpu_before.ru_stime) \
            + children.ru_utime + children.ru_stime
        peak_mb = usage.ru_maxrss / 1024
        scrub_peak = f"{_peak_rss_since_reset_mb():.0f}" if reset else "n/a"
        os.unlink(out_path)
    print(f"RESULT rows={result.rows} kept={result.kept} removed={dict(result.removed)} seconds={seconds:.2f} "
          f"rows_per_s={result.rows / seconds:,.0f} processes={processes} cpu_seconds={cpu:.2f} load={os.getloadavg()[0]:.1f} "
          f"rss_before_mb={rss_before:.0f} peak_rss_during_scrub_mb={scrub_peak} peak_rss_process_mb={peak_mb:.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file, or BENCH_DATABASE_URL")
    parser.add_argument("--phase", choices=("all", "scrub"), default="all", help=argparse.SUPPRESS)
    parser.add_argument("--csv", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--instance", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--columns", default="email,phone", help="email, phone or email,phone")
    parser.add_argument("--channel", default="email")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes for the per-row work (default: one per core; 1 = in-process)")
    args = parser.parse_args()
    columns = {"email": 2, "phone": 3}
    chosen = [c.strip() for c in args.columns.split(",") if c.strip()]

    if args.phase == "scrub":
        run_scrub(args.database_url, args.instance, args.csv, columns["email"] if "email" in chosen else None,
                  columns["phone"] if "phone" in chosen else None, args.channel, args.processes)
        return

    workdir = tempfile.mkdtemp(prefix="scrub-bench-")
    if args.db == "sqlite":
        database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
    else:
        database_url = args.database_url or os.environ.get("BENCH_DATABASE_URL")
        if not database_url or not database_url.startswith("postgresql"):
            parser.error("--db postgresql needs --database-url or BENCH_DATABASE_URL (a scratch database)")
    csv_path = os.path.join(workdir, "recipients.csv")
    started = time.perf_counter()
    made = prepare(database_url, workdir, args.clients, args.rows, csv_path)
    print(f"prepared {args.rows:,} rows ({os.path.getsize(csv_path) / 2**20:.0f} MB CSV), {made['clients']:,} clients, "
          f"{made['consents']:,} marketing consents, {made['opt_outs']:,} opt-outs in "
          f"{time.perf_counter() - started:.1f} s on {args.db}")
    command = [sys.executable, __file__, "--phase", "scrub", "--database-url", database_url, "--csv", csv_path,
               "--instance", workdir, "--columns", args.columns, "--channel", args.channel,
               "--processes", str(args.processes)]
    try:
        subprocess.run(command, check=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
