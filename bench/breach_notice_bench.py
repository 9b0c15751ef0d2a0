"""Breach notices to every affected client (issue 15, policy 4.3): one manager's click queues them all.

    python bench/breach_notice_bench.py --db sqlite --clients 10000 100000
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/<scratch db> \
        python bench/breach_notice_bench.py --db postgresql --clients 10000 100000

Per size: builds (set-based, untimed) N clients with e-mail addresses in kk/ru/en and 1 % without one, an incident,
and lists everyone the back-office database holds as affected (timed: the "by system" INSERT ... SELECT); then
times the confirmation page's plan and `breach_subjects.notify_affected` (one transaction), checks that exactly
one letter per client with an address was queued and linked, and that a second click queues nothing.
Target: the click for 100,000 clients answers within 30 s (a web request), peak RSS flat as N grows.
The PostgreSQL run DROPS AND RECREATES every table in the database it is given: use a scratch database.
"""
import argparse
import datetime as dt
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
TIME_TARGET_S = 30.0
TARGET_AT = 100_000
RSS_GROWTH = 1.25


def _app(database_url, instance):
    from backoffice import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                       "BACKOFFICE_HASH_KEY": "bench-hash-key", "TESTING": True, "REDIS_URL": None})


def prepare(database_url, instance, clients):
    from sqlalchemy import text

    from backoffice.extensions import db

    app = _app(database_url, instance)
    with app.app_context():
        db.drop_all()
        db.create_all()
        if db.engine.dialect.name == "postgresql":
            source = "FROM generate_series(1, :count) AS n(i)"
            prefix = ""
        else:
            source = "FROM n"
            prefix = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
        now = "'2026-06-15 00:00:00'" if db.engine.dialect.name == "sqlite" else "TIMESTAMP '2026-06-15'"
        email = "CASE WHEN i % 100 = 0 THEN NULL ELSE 'c' || i || '@mail.kz' END"
        db.session.execute(text(
            prefix + "INSERT INTO client (id, full_name, email, email_norm, preferred_language, status, source, "
            "created_at, updated_at, version) "
            f"SELECT i, 'Client ' || i, {email}, {email}, CASE i % 3 WHEN 0 THEN 'kk' WHEN 1 THEN 'ru' ELSE 'en' END, "
            f"'active', 'registration', {now}, {now}, 1 {source}"), {"count": clients})
        db.session.commit()


def run_once(database_url, instance):
    """In a fresh process: list the affected, plan, click twice; prints the timings and what was queued."""
    from sqlalchemy import func, select

    from backoffice.extensions import db
    from backoffice.models import BreachAffectedClient, Client, Letter, StaffUser
    from backoffice.services import breach_subjects, breaches, compliance_settings, datamap

    app = _app(database_url, instance)
    with app.app_context(), app.test_request_context("/"):
        manager = StaffUser(email="bench@test.local", full_name="Bench", password_hash="x")
        manager.role_set = {"manager", "admin"}
        db.session.add(manager)
        db.session.commit()
        compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: "DPO, dpo@bekair.kz"}, manager)
        system = datamap.ensure_backoffice_system()
        db.session.commit()
        incident = breaches.report(manager, discovered_at=dt.datetime(2026, 6, 1, 9), discovered_by="bench",
                                   description="bench", data_categories=["contact"], systems=[str(system.id)],
                                   estimated_count=None)
        started = time.perf_counter()
        listed = breaches.add_affected(incident.id, manager, selection="system", system=str(system.id))
        list_s = time.perf_counter() - started
        started = time.perf_counter()
        plan = breach_subjects.plan(incident.id)
        plan_s = time.perf_counter() - started
        started = time.perf_counter()
        queued = breach_subjects.notify_affected(incident.id, manager)
        notify_s = time.perf_counter() - started
        try:
            again = breach_subjects.notify_affected(incident.id, manager)
        except breaches.BreachError:
            again = {}
        letters = db.session.execute(select(func.count(), func.count(func.distinct(Letter.client_id)))
                                     .where(Letter.breach_id == incident.id)).one()
        linked = db.session.execute(select(func.count()).select_from(BreachAffectedClient)
                                    .where(BreachAffectedClient.letter_id.is_not(None))).scalar()
        with_address = db.session.execute(select(func.count()).select_from(Client)
                                          .where(Client.email.is_not(None))).scalar()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"listed": listed, "list_s": list_s, "plan_s": plan_s, "notify_s": notify_s, "rss_mb": rss_mb,
                      "queued": queued, "again": again, "letters": list(letters), "linked": linked,
                      "with_address": with_address, "plan_letters": plan["letters"]}))


def _child(database_url, instance):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, __file__, "--child", database_url, instance], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_once(*args.child)
    instance = tempfile.mkdtemp(prefix="breach-bench-")
    if args.db == "postgresql":
        database_url = os.environ.get("BENCH_DATABASE_URL")
        if not database_url:
            raise SystemExit("set BENCH_DATABASE_URL to a scratch PostgreSQL database (its tables are dropped)")
    else:
        database_url = f"sqlite:///{Path(instance) / 'breach.db'}"
    print(f"breach notice bench on {args.db}; load average {os.getloadavg()[0]:.2f}")
    results, met, total = [], 0, 0
    for clients in args.clients:
        prepare(database_url, instance, clients)
        r = _child(database_url, instance)
        exact = (r["listed"] == clients and sum(r["queued"].values()) == r["with_address"] == r["linked"]
                 == r["letters"][0] == r["letters"][1] and r["plan_letters"] == r["queued"] and not r["again"])
        results.append((clients, r))
        print(f"{clients:>9,} affected: listed by system {r['list_s']:.1f} s, plan {r['plan_s']:.1f} s, "
              f"notify {r['notify_s']:.1f} s ({sum(r['queued'].values()):,} letters {r['queued']}), peak RSS "
              f"{r['rss_mb']:.0f} MB; exact={exact}; second click queued {sum(r['again'].values())}")
        total += 1
        met += exact
        if clients >= TARGET_AT:
            total += 1
            met += r["plan_s"] + r["notify_s"] <= TIME_TARGET_S
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
