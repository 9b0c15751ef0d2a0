"""Production-shaped cases for bench/run.py (issue 16): real processes over HTTP on PostgreSQL/SQLite + Redis.

- approve → completed over HTTP: a real gunicorn web process (gunicorn.conf.py) and a separate
  `flask --app wsgi worker` in each mode (supervised pool = the default, --no-fork, --fork);
- produce export → ready over HTTP, the same way, default mode;
- a burst of 500 approved erasures through 1, 2 and 4 pool workers (`--processes N --burst`), queued as bulk
  approval queues them (batches of ERASURE_BATCH_SIZE subjects, a savepoint each), and once one job per erasure;
- the list pages through gunicorn under wrk at 8 and 32 concurrent connections (closed loop, no think time);
- resident memory of a pool worker process and of a gunicorn worker after the runs above.

`register(run)` adds the cases to run.py's table (run.py is the __main__ module; importing it again would
register into a second copy).
"""
import atexit
import contextlib
import datetime as dt
import html.parser
import http.cookiejar
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROD = "production"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid):
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def memory_mb(pid):
    """(RSS, PSS) of a process in MiB: PSS counts pages shared with the forking parent pro rata."""
    rss = pss = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


class _Forms(html.parser.HTMLParser):
    """The step forms of a request page: {form id: {field: value}} (hidden inputs, textareas empty)."""

    def __init__(self):
        super().__init__()
        self.forms, self._current = {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id", "").startswith("step-"):
            self._current = self.forms.setdefault(attrs["id"][5:], {})
        elif self._current is not None and tag in ("input", "textarea") and attrs.get("name"):
            self._current[attrs["name"]] = attrs.get("value", "") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


class Cluster:
    """One gunicorn web process and the worker processes of the HTTP cases, on the bench data set."""

    def __init__(self, run, bench):
        self.run, self.bench = run, bench
        self.queue = f"bench-http-{uuid.uuid4().hex[:8]}"
        self.env = run._worker_env(bench, self.queue)
        self.env.update(GUNICORN_WORKERS=os.environ.get("BENCH_GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)),
                        GUNICORN_ACCESS_LOG=str(run.OUT / "gunicorn-access.log"),
                        GUNICORN_ERROR_LOG=str(run.OUT / "gunicorn-error.log"), BACKOFFICE_ENV="development")
        self.port = free_port()
        self.env["GUNICORN_BIND"] = f"127.0.0.1:{self.port}"
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes = []
        self.worker = None
        self.worker_mode = None
        self._hold_periodic_jobs()
        self.web = self._start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], "web")
        self._wait_port()
        with bench.app.app_context():
            from backoffice.cli.bench import ensure_bench_staff
            from backoffice.extensions import db
            from backoffice.services import second_factor

            users, password = ensure_bench_staff()
            self.staff = {role: user.id for role, user in users.items()}
            manager = users["manager"]
            if not second_factor.enrolled(manager):  # every account signs in with a second factor (issue 13)
                second_factor.enrol(manager, second_factor.new_secret())
                db.session.commit()
            self.manager_id, self.secret = manager.id, manager.totp_secret
            email = manager.email
        self.browser = self._login(email, password)
        atexit.register(self.stop)

    def _hold_periodic_jobs(self):
        # As in run.py's worker case: a reconcile would re-queue the generated data set's open requests.
        from redis import Redis

        from backoffice.jobs.schedule import PERIODIC_JOBS, lock_key

        connection = Redis.from_url(self.run._redis_url())
        for periodic in PERIODIC_JOBS:
            connection.set(lock_key(self.queue, periodic), int(time.time()), ex=24 * 3600)
        self.redis = connection

    def _start(self, command, name):
        log = open(self.run.OUT / f"{name}.log", "wb")
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def _wait_port(self):
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.web.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start: see bench/out/gunicorn-error.log")
                time.sleep(0.05)

    def _login(self, email, password):
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = browser.open(f"{self.base}/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = browser.open(f"{self.base}/login", data=urllib.parse.urlencode(
            {"email": email, "password": password, "csrf_token": token}).encode())
        if response.geturl().endswith("/login/code"):
            import pyotp

            from backoffice.extensions import db
            from backoffice.models.staff import StaffUser
            from backoffice.services import second_factor

            page = response.read().decode()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            with self.bench.app.app_context():  # a code the server has not accepted yet (each step works once)
                last = db.session.get(StaffUser, self.manager_id).totp_last_step
                step = max(second_factor.current_step(), (last or 0) + 1)
            response = browser.open(f"{self.base}/login/code", data=urllib.parse.urlencode(
                {"code": pyotp.TOTP(self.secret).at(step * 30), "csrf_token": token}).encode())
        assert "/login" not in response.geturl(), f"bench login over HTTP failed ({response.geturl()})"
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        return browser

    def use_worker(self, mode):
        """Have exactly one worker of `mode` (pool | no-fork | fork) running on the queue."""
        if self.worker_mode == mode and self.worker.poll() is None:
            return
        self.stop_worker()
        args = {"pool": ["--processes", "1"], "no-fork": ["--no-fork"], "fork": ["--fork"]}[mode]
        self.worker = self._start([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--without-scheduler",
                                   *args], f"worker-{mode}")
        self.worker_mode = mode
        from rq import Queue, Worker

        queue = Queue(self.queue, connection=self.redis)
        deadline = time.monotonic() + 120
        while not Worker.all(queue=queue):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker ({mode}) did not start: see bench/out/worker-{mode}.log")
            time.sleep(0.05)

    def stop_worker(self):
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            self.worker.wait(timeout=60)
        self.worker = None

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.processes = []

    def take_step(self, request_id, step, comment="Bench: identity checked, approved."):
        """GET the request page (untimed by the caller) and return a callable that POSTs the step form."""
        page = self.browser.open(f"{self.base}/admin/requests/details/?id={request_id}").read().decode()
        parser = _Forms()
        parser.feed(page)
        fields = parser.forms.get(step)
        assert fields is not None, f"request {request_id}: no '{step}' form on its page"
        for name in list(fields):
            if name.endswith("comment"):
                fields[name] = comment
        # Approve asks again on the server (issue 14); this is the confirmation's POST, as the staff member sends it.
        fields["confirmed"] = "1"
        data = urllib.parse.urlencode(fields).encode()

        def post():
            response = self.browser.open(f"{self.base}/admin/requests/step/", data=data)
            assert response.status == 200, response.status
        return post


_clusters = {}


def cluster(run, bench):
    if id(bench) not in _clusters:
        _clusters[id(bench)] = Cluster(run, bench)
    return _clusters[id(bench)]


def _prepare_requests(run, bench, count, request_type, status, created_by):
    """`count` fresh subjects with a request in `status`, created by `created_by` (four-eyes needs another)."""
    from sqlalchemy import text

    from backoffice.extensions import db

    with bench.app.app_context():
        pairs = run.make_subjects(count, 5, request_type=request_type)
        low, high = pairs[0][1], pairs[-1][1]
        db.session.execute(text("UPDATE privacy_request SET status = :s, approved_at = NULL, created_by_id = :u, "
                                "identity_verified_at = :now, identity_method = 'document' "
                                "WHERE id BETWEEN :a AND :b"),
                           {"s": status, "u": created_by, "now": dt.datetime.utcnow(), "a": low, "b": high})
        db.session.commit()
    return [request_id for _client, request_id in pairs]


def _http_case(run, mode, request_type="erasure"):
    """approve (or produce export) over HTTP → request completed by a separate worker process in `mode`."""
    def build(bench):
        c = cluster(run, bench)
        c.use_worker(mode)
        step = "approve" if request_type == "erasure" else "release"
        status = "awaiting_approval" if request_type == "erasure" else "in_progress"
        repeats = 7 if bench.quick else 15
        ids = iter(_prepare_requests(run, bench, repeats + 1, request_type, status, c.staff["support"]))
        raw = bench.engine.raw_connection()
        state, phases = {}, {"post": [], "queued→started": [], "started→ended": []}
        extra = {}

        def setup():
            state["id"] = next(ids)
            state["post"] = c.take_step(state["id"], step)

        def project():
            started = dt.datetime.utcnow()
            t0 = time.perf_counter()
            state["post"]()
            phases["post"].append((time.perf_counter() - t0) * 1000)
            cursor = raw.cursor()
            deadline = time.monotonic() + 60
            while True:
                cursor.execute("SELECT r.status, r.completed_at, j.enqueued_at, j.started_at, j.ended_at "
                               "FROM privacy_request r LEFT JOIN job_record j ON j.id = r.job_id WHERE r.id = %s"
                               if bench.db_kind == "postgresql" else
                               "SELECT r.status, r.completed_at, j.enqueued_at, j.started_at, j.ended_at "
                               "FROM privacy_request r LEFT JOIN job_record j ON j.id = r.job_id WHERE r.id = ?",
                               (state["id"],))
                row = cursor.fetchone()
                raw.rollback()
                if row[0] in ("completed", "failed") and row[4] is not None:
                    break
                assert time.monotonic() < deadline, f"request {state['id']} still {row[0]} after 60 s"
                time.sleep(0.002)
            assert row[0] == "completed", f"request {state['id']} {row[0]}"
            times = [_as_datetime(value) for value in row[1:]]
            phases["queued→started"].append((times[2] - times[1]).total_seconds() * 1000)
            phases["started→ended"].append((times[3] - times[2]).total_seconds() * 1000)
            # The job's own clock marks completion; the poll interval does not count.
            elapsed = (max(times[0], times[3]) - started).total_seconds() * 1000
            extra.update({name: f"{statistics.median(values):.0f} ms" for name, values in phases.items()})
            return elapsed

        return run.Measure(project=project, setup=setup, repeats=repeats, warmup=True, self_timed=True, extra=extra)
    return build


def _as_datetime(value):
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=None) if value.tzinfo else value


def _burst_case(run, processes, batched=True):
    """500 approved erasures (quick: 300) queued, then `flask worker --burst --processes N` drains them.

    `batched`: queued as bulk approval queues them (jobqueue.erasure_batches); else one job per erasure."""
    def build(bench):
        from backoffice import create_app
        from backoffice.services import jobqueue

        count = int(os.environ.get("BENCH_BURST_JOBS", 0)) or (300 if bench.quick else 500)
        queue = f"bench-burst-{uuid.uuid4().hex[:8]}"
        app = create_app(dict(bench.config, REDIS_URL=run._redis_url(), RQ_QUEUE=queue))
        env = run._worker_env(bench, queue)
        extra = {"_jobs": count}
        state = {}

        def setup():
            from backoffice.jobs.schedule import PERIODIC_JOBS, lock_key

            connection = jobqueue.redis_connection(app)
            for periodic in PERIODIC_JOBS:
                connection.set(lock_key(queue, periodic), int(time.time()), ex=24 * 3600)
            with app.app_context():
                pairs = run.make_subjects(count, 5)
                with jobqueue.erasure_batches() if batched else contextlib.nullcontext():
                    for _client, request_id in pairs:
                        jobqueue.enqueue_request_job(request_id)
                extra["batch"] = f"{app.config['ERASURE_BATCH_SIZE']} subjects per job" if batched else "1 per job"
            state["ids"] = (pairs[0][1], pairs[-1][1])

        def project():
            t0 = time.perf_counter()
            worker = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst",
                                     "--without-scheduler", "--processes", str(processes)], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - t0
            assert worker.returncode == 0, worker.stderr[-300:]
            low, high = state["ids"]
            done, certified, first, last = _burst_outcome(bench, low, high)
            assert done == count and certified == count, f"{done} completed, {certified} certificates of {count}"
            span = (_as_datetime(last) - _as_datetime(first)).total_seconds()
            extra["erasures/min"] = f"{count / span * 60:,.0f}"
            extra["wall incl. start-up"] = f"{wall:.1f} s ({count / wall * 60:,.0f}/min)"
            return span * 1000

        return run.Measure(project=project, setup=setup, repeats=1, warmup=False, self_timed=True, extra=extra)
    return build


def _burst_outcome(bench, low, high):
    from sqlalchemy import text

    with bench.engine.connect() as conn:
        done, certified = conn.execute(text(
            "SELECT count(*), count(certificate) FROM privacy_request "
            "WHERE id BETWEEN :a AND :b AND status = 'completed'"), {"a": low, "b": high}).one()
        first, last = conn.execute(text(
            "SELECT min(j.started_at), max(j.ended_at) FROM job_record j JOIN privacy_request r ON r.job_id = j.id "
            "WHERE r.id BETWEEN :a AND :b"), {"a": low, "b": high}).one()
    return done, certified, first, last


class _PerMinute:
    """≥ N erasures per minute over the burst (first job started → last job ended)."""

    def __init__(self, run, per_minute):
        self.target = run.Target(f"≥ {per_minute:,}/min", self.check)
        self.per_minute = per_minute

    def check(self, row):
        ms = row["project_ms"]
        return ms is not None and row["extra"]["_jobs"] / (ms / 1000) * 60 >= self.per_minute


LIST_URLS = ("/admin/clients/", "/admin/requests/", "/admin/clients/?page=3", "/admin/optouts/")

WRK_SCRIPT = """
paths = {%s}
n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
"""


def _wrk_case(run, connections):
    def build(bench):
        c = cluster(run, bench)
        for path in LIST_URLS:  # warm each page (and check the role may see it)
            assert c.browser.open(c.base + path).status == 200, path
        script = run.OUT / "wrk-lists.lua"
        script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in LIST_URLS))
        seconds = 5 if bench.quick else 15
        extra = {}

        def project():
            out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
                                  "--timeout", "10s", "-s", str(script), "-H", f"Cookie: {c.cookie}", c.base],
                                 capture_output=True, text=True, check=True).stdout
            latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
            non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            assert non_2xx is None, f"{non_2xx.group(1)} error responses under load"
            extra.update({"req/s": f"{float(rps):,.0f}", "p50": _ms(latency["50"]), "p99": _ms(latency["99"]),
                          "gunicorn workers": c.env["GUNICORN_WORKERS"]})
            return float(_ms(latency["99"])[:-3])

        return run.Measure(project=project, repeats=1, warmup=False, self_timed=True, extra=extra)
    return build


def _ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return f"{float(value) * {'us': 0.001, 'ms': 1, 's': 1000}[unit]:.1f} ms"


def _memory_case(run, which):
    def build(bench):
        c = cluster(run, bench)
        if which == "worker":
            c.use_worker("pool")
            pids = [pid for pid in _descendants(c.worker.pid) if "Scheduler" not in _cmdline(pid)]
        else:
            pids = _descendants(c.web.pid)
        measured = [memory_mb(pid) for pid in pids]
        measured = [m for m in measured if m[0] is not None]
        assert measured, f"no {which} process found"
        rss = max(m[0] for m in measured)
        pss = max(m[1] or 0 for m in measured)
        parent_rss, _ = memory_mb(c.worker.pid if which == "worker" else c.web.pid)
        extra = {"processes": len(measured), "max PSS": f"{pss:.0f} MiB", "parent RSS": f"{parent_rss:.0f} MiB"}
        return run.Measure(project=lambda: rss, repeats=1, warmup=False, self_timed=True, extra=extra)
    return build


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def register(run):
    """Add the production cases to run.py's case table."""
    case = run.case
    case("HTTP approve → completed, default worker (supervised pool)", group=PROD,
         target=run.max_ms(40))(_http_case(run, "pool"))
    case("HTTP approve → completed, --no-fork worker", group=PROD)(_http_case(run, "no-fork"))
    case("HTTP approve → completed, --fork worker (work horse per job)", group=PROD)(_http_case(run, "fork"))
    case("HTTP produce export → ready, default worker", group=PROD,
         target=run.max_ms(60))(_http_case(run, "pool", request_type="access"))
    case("memory: pool worker process (max RSS, MiB)", group=PROD,
         target=run.Target("≤ 150 MiB", lambda row: row["project_ms"] <= 150))(_memory_case(run, "worker"))
    for processes in (1, 2, 4):
        case(f"burst of 500 bulk-approved erasures (quick: 300), {processes} worker process(es)", group=PROD,
             target=_PerMinute(run, 10_000).target if processes == 4 else None)(_burst_case(run, processes))
    case("burst of 500 erasures (quick: 300), one job each, 4 worker processes",
         group=PROD)(_burst_case(run, 4, batched=False))
    for connections in (8, 32):
        case(f"gunicorn list pages, {connections} concurrent users (p99 ms)", group=PROD,
             target=run.max_ms(100) if connections == 32 else None)(_wrk_case(run, connections))
    case("memory: gunicorn worker (max RSS, MiB)", group=PROD,
         target=run.Target("≤ 150 MiB", lambda row: row["project_ms"] <= 150))(_memory_case(run, "web"))
