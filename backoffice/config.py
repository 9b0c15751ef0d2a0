"""Every setting, read from the environment in one place, typed, with defaults.

Each variable is documented in the README's configuration table.
"""
import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def parse_bool(value, default=False):
    if value is None or value == "":
        return default
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def int_or_default(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def float_or_default(value, default):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def parse_list(value, default):
    if not value:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


class ConfigError(RuntimeError):
    """Raised when the settings would make the application unsafe to start."""


def _instance_secret(instance_path, name):
    """A random secret kept in the instance folder, for development and the demo only."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    try:
        path.chmod(0o600)
    except OSError:
        pass
    return value


def normalise_database_url(url):
    """Let operators write postgres:// or postgresql:// and still get the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def load_config(environ=None, instance_path=None):
    """Build the Flask config mapping from environment variables."""
    env = os.environ if environ is None else environ
    instance_path = Path(instance_path or env.get("BACKOFFICE_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    mode = env.get("BACKOFFICE_ENV", "development").strip().lower()
    production = mode == "production"

    secret_key = env.get("SECRET_KEY")
    hash_key = env.get("BACKOFFICE_HASH_KEY")
    if production and not secret_key:
        raise ConfigError("SECRET_KEY must be set when BACKOFFICE_ENV=production")
    if production and not hash_key:
        raise ConfigError("BACKOFFICE_HASH_KEY must be set when BACKOFFICE_ENV=production")

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'backoffice.db'}"

    config = {
        "BACKOFFICE_ENV": mode,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": secret_key or _instance_secret(instance_path, "secret_key"),
        # Keyed hashes (opt-outs that survive erasure, audit search terms) use a separate key,
        # so rotating the session key does not break suppression-list matching.
        "BACKOFFICE_HASH_KEY": hash_key or _instance_secret(instance_path, "hash_key"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        # hide_parameters: SQL parameter values (e-mails, IINs...) stay out of logs and error messages.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "RQ_QUEUE": env.get("BACKOFFICE_RQ_QUEUE", "backoffice"),
        "JOB_TIMEOUT_SECONDS": int_or_default(env.get("BACKOFFICE_JOB_TIMEOUT"), 600),
        # How often a page with a running job asks for its status (static/live_status.js).
        "LIVE_STATUS_INTERVAL_MS": max(100, int_or_default(env.get("BACKOFFICE_LIVE_STATUS_INTERVAL_MS"), 2000)),
        # Bulk approval queues its erasures in jobs of this many subjects, each in its own savepoint (issue 16).
        "ERASURE_BATCH_SIZE": max(1, int_or_default(env.get("BACKOFFICE_ERASURE_BATCH_SIZE"), 25)),
        # Jobs that read a whole upload (opt-out import, campaign scrub): a 200 MB file takes minutes, not seconds.
        "FILE_JOB_TIMEOUT_SECONDS": int_or_default(env.get("BACKOFFICE_FILE_JOB_TIMEOUT"), 3600),
        # Transient failures (database or Redis connection) are retried after these many seconds.
        "JOB_RETRY_INTERVALS": [int_or_default(v, 60) for v in parse_list(env.get("BACKOFFICE_JOB_RETRY_INTERVALS"),
                                                                          ["10", "60", "300"])],
        # A job marked started longer ago than this is taken as dead (its worker was killed) by reconcile.
        "JOB_STALE_SECONDS": int_or_default(env.get("BACKOFFICE_JOB_STALE_SECONDS"),
                                            int_or_default(env.get("BACKOFFICE_JOB_TIMEOUT"), 600) + 60),
        # Short enough that a job lost with its worker is re-queued within a minute (docs/jobs.md).
        "RECONCILE_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_RECONCILE_INTERVAL"), 15),
        # `flask worker`: supervised in-process worker processes, restarted after this many jobs or megabytes.
        "WORKER_PROCESSES": int_or_default(env.get("BACKOFFICE_WORKER_PROCESSES"), os.cpu_count() or 1),
        "WORKER_MAX_JOBS": int_or_default(env.get("BACKOFFICE_WORKER_MAX_JOBS"), 10000),
        "WORKER_MAX_MEMORY_MB": int_or_default(env.get("BACKOFFICE_WORKER_MAX_MEMORY_MB"), 300),
        # Processes a campaign-scrub job uses for its per-row work; unset: one per core (1 in embedded mode).
        "SCRUB_PROCESSES": int_or_default(env.get("BACKOFFICE_SCRUB_PROCESSES"), None),
        "EXPORT_CLEANUP_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_EXPORT_CLEANUP_INTERVAL"), 3600),
        # Issue 15: the retention run (daily) and the expiry of disclosure grants (hourly).
        "RETENTION_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_RETENTION_INTERVAL"), 86400),
        "GRANT_EXPIRY_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_GRANT_EXPIRY_INTERVAL"), 3600),
        "BLOCK_EXPIRY_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_BLOCK_EXPIRY_INTERVAL"), 3600),
        # Tests only: jobs stop at named checkpoints until a release file appears in this directory.
        "JOB_PAUSE_DIR": env.get("BACKOFFICE_JOB_PAUSE_DIR") or None,
        "LANGUAGES": parse_list(env.get("BACKOFFICE_LANGUAGES"), ["en", "ru", "kk"]),
        "BABEL_DEFAULT_LOCALE": env.get("BACKOFFICE_DEFAULT_LANGUAGE", "en"),
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BACKOFFICE_TIMEZONE": env.get("BACKOFFICE_TIMEZONE", "Asia/Almaty"),
        # Statutory deadlines end at this local time on their last working day (HH:MM, BACKOFFICE_TIMEZONE).
        "BACKOFFICE_WORKDAY_END": env.get("BACKOFFICE_WORKDAY_END", "18:00"),
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent / "translations"),
        "EXPORT_DIR": env.get("BACKOFFICE_EXPORT_DIR") or str(instance_path / "exports"),
        "EXPORT_TTL_DAYS": int_or_default(env.get("BACKOFFICE_EXPORT_TTL_DAYS"), 7),
        "DEMO_PASSWORD": env.get("DEMO_PASSWORD") or None,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        # Style sheets, scripts and fonts (no personal data in them): the browser keeps them for an hour instead of
        # fetching some twenty files again on every page (http_security keeps every page and download no-store).
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,
        "MAX_CONTENT_LENGTH": int_or_default(env.get("BACKOFFICE_MAX_UPLOAD_MB"), 200) * 1024 * 1024,
        # Key of the suppression-list hashes, shared with mailing providers under contract (docs/optouts.md).
        # Unset: derived from BACKOFFICE_HASH_KEY, so the main key itself is never handed out.
        "OPTOUT_HASH_KEY": env.get("BACKOFFICE_OPTOUT_HASH_KEY") or None,
        # Campaign lists and scrub results are deleted this long after their last change (downloaded ones at once);
        # the periodic job `purge-scrub-files` looks every SCRUB_PURGE_INTERVAL_SECONDS.
        "SCRUB_FILE_TTL_MINUTES": int_or_default(env.get("BACKOFFICE_SCRUB_FILE_TTL_MINUTES"), 60),
        # An opt-out import that shows no progress for this long is ended and its file deleted.
        "IMPORT_FILE_TTL_MINUTES": int_or_default(env.get("BACKOFFICE_IMPORT_FILE_TTL_MINUTES"), 60),
        "SCRUB_PURGE_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_SCRUB_PURGE_INTERVAL"), 600),
        "API_RATE_LIMIT_PER_MINUTE": int_or_default(env.get("BACKOFFICE_API_RATE_LIMIT"), 120),
        "FLASK_ADMIN_FLUID_LAYOUT": True,
        # The e-mail channel (policy 5.3; docs/mail.md): the intake mailbox (IMAP) and letters to clients (SMTP).
        "MAIL_IMAP_HOST": env.get("BACKOFFICE_IMAP_HOST") or None,
        "MAIL_IMAP_PORT": int_or_default(env.get("BACKOFFICE_IMAP_PORT"), 993),
        "MAIL_IMAP_TLS": env.get("BACKOFFICE_IMAP_TLS", "ssl").strip().lower(),  # ssl | starttls | none
        "MAIL_IMAP_USER": env.get("BACKOFFICE_IMAP_USER") or None,
        "MAIL_IMAP_PASSWORD": env.get("BACKOFFICE_IMAP_PASSWORD") or None,
        "MAIL_IMAP_FOLDER": env.get("BACKOFFICE_IMAP_FOLDER", "INBOX"),
        "MAIL_IMAP_PROCESSED_FOLDER": env.get("BACKOFFICE_IMAP_PROCESSED_FOLDER", "Processed"),
        "MAIL_POLL_BATCH": max(int_or_default(env.get("BACKOFFICE_MAIL_POLL_BATCH"), 100), 1),
        "MAIL_POLL_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_MAIL_POLL_INTERVAL"), 120),
        "MAIL_ATTACHMENT_MAX_BYTES": int_or_default(env.get("BACKOFFICE_MAIL_ATTACHMENT_MAX_MB"), 5) * 1024 * 1024,
        "MAIL_MAX_AGE_DAYS": int_or_default(env.get("BACKOFFICE_MAIL_MAX_AGE_DAYS"), 30),
        "MAIL_SMTP_HOST": env.get("BACKOFFICE_SMTP_HOST") or None,
        "MAIL_SMTP_PORT": int_or_default(env.get("BACKOFFICE_SMTP_PORT"), 587),
        "MAIL_SMTP_TLS": env.get("BACKOFFICE_SMTP_TLS", "starttls").strip().lower(),  # starttls | ssl | none
        "MAIL_SMTP_USER": env.get("BACKOFFICE_SMTP_USER") or None,
        "MAIL_SMTP_PASSWORD": env.get("BACKOFFICE_SMTP_PASSWORD") or None,
        "MAIL_FROM": env.get("BACKOFFICE_MAIL_FROM", "privacy@bekair.kz"),
        # Where clients reach the public download page (the link in the access completion letter).
        "MAIL_PUBLIC_BASE_URL": env.get("BACKOFFICE_PUBLIC_URL", "http://127.0.0.1:5000"),
        "MAIL_OUTBOX_DIR": env.get("BACKOFFICE_OUTBOX_DIR") or str(instance_path / "outbox"),
        "MAIL_SEND_INTERVAL_SECONDS": int_or_default(env.get("BACKOFFICE_MAIL_SEND_INTERVAL"), 60),
        "MAIL_RETRY_SECONDS": [int_or_default(v, 300) for v in parse_list(env.get("BACKOFFICE_MAIL_RETRY_SECONDS"),
                                                                          ["60", "300", "1800", "7200"])],
        "MAIL_TIMEOUT_SECONDS": int_or_default(env.get("BACKOFFICE_MAIL_TIMEOUT"), 30),
        # ---- Sign-in and sessions (docs/security.md) ----
        "PASSWORD_MIN_LENGTH": max(12, int_or_default(env.get("BACKOFFICE_PASSWORD_MIN_LENGTH"), 12)),
        "SESSION_IDLE_MINUTES": int_or_default(env.get("BACKOFFICE_SESSION_IDLE_MINUTES"), 30),
        "SESSION_ABSOLUTE_HOURS": int_or_default(env.get("BACKOFFICE_SESSION_ABSOLUTE_HOURS"), 12),
        # Failed sign-ins per account (typed e-mail) before each further try waits 2^k seconds...
        "LOGIN_BACKOFF_AFTER": int_or_default(env.get("BACKOFFICE_LOGIN_BACKOFF_AFTER"), 3),
        # ...and before the account is locked until an admin unlocks it.
        "LOGIN_LOCKOUT_AFTER": int_or_default(env.get("BACKOFFICE_LOGIN_LOCKOUT_AFTER"), 10),
        # Failed sign-ins from one IP address (any account) before that address backs off exponentially.
        "LOGIN_IP_BACKOFF_AFTER": int_or_default(env.get("BACKOFFICE_LOGIN_IP_BACKOFF_AFTER"), 20),
        "LOGIN_BACKOFF_MAX_SECONDS": int_or_default(env.get("BACKOFFICE_LOGIN_BACKOFF_MAX_SECONDS"), 900),
        # Second factor: roles that must use TOTP (support may opt in).
        "TOTP_REQUIRED_ROLES": parse_list(env.get("BACKOFFICE_TOTP_REQUIRED_ROLES"),
                                          ["manager", "supervisor", "admin"]),
        "DEMO_TOTP_SECRET": env.get("DEMO_TOTP_SECRET") or None,
        # Granting a role that reads client data: "second_admin" (another admin approves) or "refuse"
        # (an admin account can never hold a client-data role; other grants apply at once).
        "ROLE_GRANT_POLICY": (env.get("BACKOFFICE_ROLE_GRANT_POLICY") or "second_admin").strip().lower(),
        "RESET_CODE_HOURS": int_or_default(env.get("BACKOFFICE_RESET_CODE_HOURS"), 24),
        # ---- Input bounds ----
        "API_MAX_BODY_BYTES": int_or_default(env.get("BACKOFFICE_API_MAX_BODY_BYTES"), 4096),
        "API_MAX_JSON_DEPTH": int_or_default(env.get("BACKOFFICE_API_MAX_JSON_DEPTH"), 10),
        # Requests without a valid integration token, per client IP and minute.
        "API_ANONYMOUS_RATE_LIMIT_PER_MINUTE": int_or_default(env.get("BACKOFFICE_API_ANONYMOUS_RATE_LIMIT"), 30),
        "CSV_MAX_COLUMNS": int_or_default(env.get("BACKOFFICE_CSV_MAX_COLUMNS"), 200),
        "CSV_MAX_LINE_BYTES": int_or_default(env.get("BACKOFFICE_CSV_MAX_LINE_BYTES"), 65536),
        "PREFERRED_URL_SCHEME": env.get("PREFERRED_URL_SCHEME", "http"),
        # Webhook systems of the data map (docs/jobs.md "Webhook signature").
        "WEBHOOK_CONNECT_TIMEOUT_SECONDS": float_or_default(env.get("BACKOFFICE_WEBHOOK_CONNECT_TIMEOUT"), 3.0),
        "WEBHOOK_READ_TIMEOUT_SECONDS": float_or_default(env.get("BACKOFFICE_WEBHOOK_READ_TIMEOUT"), 10.0),
        "WEBHOOK_ATTEMPTS": int_or_default(env.get("BACKOFFICE_WEBHOOK_ATTEMPTS"), 3),
        "WEBHOOK_BACKOFF_SECONDS": float_or_default(env.get("BACKOFFICE_WEBHOOK_BACKOFF"), 0.5),
        "WEBHOOK_REPLAY_WINDOW_SECONDS": int_or_default(env.get("BACKOFFICE_WEBHOOK_REPLAY_WINDOW"), 300),
        # Where systems send their callbacks (POST <this>/api/v1/systems/<id>/confirm).
        "PUBLIC_URL": (env.get("BACKOFFICE_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
    }
    return config
