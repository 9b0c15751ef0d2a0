"""Where a forking RQ worker's time per job goes (docs/jobs.md, "Profile"): the costs a work horse pays and an
in-process worker does not, measured in a process holding the same app as `flask --app wsgi worker`.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bo_perf_bench python bench/worker_profile.py

Each figure is the median of --repeats runs, in milliseconds.
"""
import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _median_ms(fn, repeats):
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _fork_and_wait(child):
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    from redis import Redis
    from sqlalchemy import text

    from backoffice import create_app
    from backoffice.extensions import db

    url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/bo_perf_bench")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "BACKOFFICE_HASH_KEY": "x",
                      "INSTANCE_PATH": str(ROOT / "bench" / "out" / "instance")})
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # warm: dialect initialised, pool holds a connection
        db.session.remove()
        engine = db.engine
    import rq  # noqa: F401 - what the worker has loaded too
    rss_mb = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def new_db_connection():
        engine.dispose(close=False)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def reused_db_connection():
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def new_redis_connection():
        Redis.from_url(redis_url).ping()

    rows = [
        ("fork + exit + wait of this process (the horse does nothing)", _median_ms(
            lambda: _fork_and_wait(lambda: None), args.repeats)),
        ("… the horse runs one full garbage collection (copies the pages it touches)", _median_ms(
            lambda: _fork_and_wait(gc.collect), args.repeats)),
    ]
    gc.freeze()
    rows.append(("… the same after gc.freeze() in the parent", _median_ms(
        lambda: _fork_and_wait(gc.collect), args.repeats)))
    gc.unfreeze()
    rows += [
        ("new PostgreSQL connection + first query (what each horse opens)", _median_ms(new_db_connection,
                                                                                         args.repeats)),
        ("pooled connection + query (an in-process worker)", _median_ms(reused_db_connection, args.repeats)),
        ("new Redis connection + PING (each horse)", _median_ms(new_redis_connection, args.repeats)),
    ]
    print(f"process RSS {rss_mb:.0f} MB, load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
          f"median of {args.repeats}\n")
    print("| cost | ms |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
