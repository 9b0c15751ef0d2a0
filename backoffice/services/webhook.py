"""The webhook connector: a signed HTTPS POST to a system we cannot reach with SQL (mailing provider, CRM).

Signature (docs/jobs.md, "Webhook signature"): with the system's secret (read from the environment variable the
system names), `X-Backoffice-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` and
`X-Backoffice-Timestamp: <unix seconds>`. A receiver rejects a timestamp outside the replay window; so do we
on the callback `POST /api/v1/systems/<id>/confirm`, which is signed the same way.

The body carries the request id, type, task id and only the identifiers the system's dataset lists. Each call
has a connect and a read timeout and is retried with exponential backoff; nothing personal is logged.
"""
import hashlib
import hmac
import json
import logging
import os
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l

log = logging.getLogger("backoffice.jobs")

SIGNATURE_HEADER = "X-Backoffice-Signature"
TIMESTAMP_HEADER = "X-Backoffice-Timestamp"
RESULT_DONE = "done"
RESULT_ACCEPTED = "accepted"
RESULT_FAILED = "failed"


class WebhookError(Exception):
    """The call did not succeed. `transient` says whether a later attempt may (timeout, 5xx, refused)."""

    def __init__(self, message, transient=True):
        super().__init__(message)
        self.message = message
        self.transient = transient


def secret_of(system):
    secret = os.environ.get(system.secret_env or "") if system.secret_env else None
    if not secret:
        raise WebhookError(_l("The environment variable %(name)s (webhook secret of %(system)s) is not set.",
                              name=system.secret_env or "?", system=system.name), transient=False)
    return secret.encode()


def sign(secret, timestamp, body):
    """`sha256=<hex>` over "<timestamp>." + body (bytes)."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(secret, timestamp, signature, body, now=None, window=None):
    """Constant-time check of the signature, and that the timestamp is inside the replay window."""
    window = current_app.config["WEBHOOK_REPLAY_WINDOW_SECONDS"] if window is None else window
    try:
        moment = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - moment) > window or not signature:
        return False
    return hmac.compare_digest(sign(secret, moment, body), signature)


def url_allowed(url):
    """HTTPS only; plain HTTP only to this machine (tests, the demo receiver)."""
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _parse(response):
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    status = data.get("status") or (RESULT_ACCEPTED if response.status_code == 202 else RESULT_DONE)
    if status not in (RESULT_DONE, RESULT_ACCEPTED, RESULT_FAILED):
        raise WebhookError(_l("The system answered with an unknown status."), transient=False)
    return status, counts_only(data.get("result"))


def counts_only(result):
    """What we keep of a system's answer: numbers and yes/no only, so no personal data lands in our database."""
    if not isinstance(result, dict):
        return {}
    return {str(key)[:40]: value for key, value in list(result.items())[:20]
            if isinstance(value, (int, float, bool))}


def call(system, payload):
    """POST the signed payload; returns (status, result counts). Raises WebhookError after the last attempt."""
    if not url_allowed(system.webhook_url):
        raise WebhookError(_l("%(system)s: the webhook URL must be https:// (http:// only to this machine).",
                              system=system.name), transient=False)
    secret = secret_of(system)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    config = current_app.config
    attempts = max(int(config["WEBHOOK_ATTEMPTS"]), 1)
    timeout = (config["WEBHOOK_CONNECT_TIMEOUT_SECONDS"], config["WEBHOOK_READ_TIMEOUT_SECONDS"])
    last = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(config["WEBHOOK_BACKOFF_SECONDS"] * (2 ** (attempt - 1)))
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
                   SIGNATURE_HEADER: sign(secret, timestamp, body)}
        try:
            response = requests.post(system.webhook_url, data=body, headers=headers, timeout=timeout,
                                     allow_redirects=False)
        except requests.Timeout:
            last = WebhookError(_l("%(system)s did not answer in time.", system=system.name))
            continue
        except requests.RequestException as exc:
            last = WebhookError(_l("%(system)s cannot be reached (%(error)s).", system=system.name,
                                   error=type(exc).__name__))
            continue
        if 200 <= response.status_code < 300:
            status, result = _parse(response)
            if status == RESULT_FAILED:
                raise WebhookError(_l("%(system)s reported that it could not carry out the request.",
                                      system=system.name), transient=False)
            return status, result
        transient = response.status_code >= 500 or response.status_code == 429
        last = WebhookError(_l("%(system)s answered HTTP %(code)s.", system=system.name,
                               code=response.status_code), transient=transient)
        if not transient:
            break
        log.warning("webhook system %s: attempt %d got HTTP %d", system.id, attempt + 1, response.status_code)
    raise last


def ping(system):
    """Reachability for `systems check`: any HTTP answer counts (a receiver may refuse an unsigned GET)."""
    if not url_allowed(system.webhook_url):
        return [str(_l("%(system)s: the webhook URL must be https:// (http:// only to this machine).",
                       system=system.name))]
    problems = []
    try:
        secret_of(system)
    except WebhookError as exc:
        problems.append(str(exc))
    try:
        requests.head(system.webhook_url, timeout=(current_app.config["WEBHOOK_CONNECT_TIMEOUT_SECONDS"], 5),
                      allow_redirects=False)
    except requests.RequestException as exc:
        problems.append(str(_l("%(system)s cannot be reached (%(error)s).", system=system.name,
                               error=type(exc).__name__)))
    return problems
