"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app` (README, "Production deployment").

Every value can be overridden from the environment (GUNICORN_*), so one file serves every host.
The access log never holds a query string (search terms are personal data: e-mails, phones, IINs) and goes
through the same redaction as the app's own logs (backoffice/logging_policy.py) for anything left in the path.
"""
import os

from backoffice.logging_policy import PersonalDataFilter

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # behind the TLS-terminating proxy
# Requests are CPU-bound (templates, SQLAlchemy); while one waits on PostgreSQL another runs: 2 per core + 1.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
worker_class = "sync"
# The slowest pages stream CSV exports of whole lists (a million audit rows take ~1 min); a worker silent for
# longer than this is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak cannot grow them without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = 500
# The app is built once in the master and forked: workers share its pages and start in milliseconds.
# create_app() opens no connection (nothing happens at import), so nothing pooled crosses the fork.
preload_app = True
control_socket_disable = True  # gunicorn 27 would create a control socket under $XDG_RUNTIME_DIR or ~/.gunicorn

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")  # "-": stdout, else a file path
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")  # "-": stderr
# %(U)s is the path without the query string. Left out on purpose: %(r)s (request line with ?query), %(q)s
# (the query), %(f)s (referer: the previous page's URL with its query), %(a)s (user agent), %(h)s (client IP).
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'



def _handler(target, stream, formatter):
    handler = {"formatter": formatter, "filters": ["personal_data"]}
    if target == "-":
        return dict(handler, **{"class": "logging.StreamHandler", "stream": stream})
    return dict(handler, **{"class": "logging.FileHandler", "filename": target})


logconfig_dict = {
    # gunicorn merges this into its defaults shallowly: root and gunicorn.error must be defined too.
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"personal_data": {"()": PersonalDataFilter}},
    "formatters": {"plain": {"format": "%(message)s"},
                   "error": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"}},
    "handlers": {
        "access": _handler(accesslog, "ext://sys.stdout", "plain"),
        "error": _handler(errorlog, "ext://sys.stderr", "error"),
    },
    "root": {"level": "INFO", "handlers": ["error"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
