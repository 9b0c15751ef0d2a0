"""HTTP hardening for every response (policy 4.3; OWASP ASVS 14.4): CSP with per-request nonces, no framing,
no sniffing, no referrer, no caching of signed-in pages or downloads, HSTS over HTTPS, no server banner.

Also the request-wide input bounds that no single view should have to remember: NUL bytes and over-long query
values are refused with 400 before any view or database sees them.
"""
import secrets

from flask import abort, current_app, g, has_request_context, request
from flask_babel import gettext as _
from werkzeug.serving import WSGIRequestHandler

PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
                      "payment=(), usb=(), interest-cohort=()")
MAX_QUERY_VALUE = 2000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def csp_nonce():
    """The nonce of this response's CSP; templates write <script nonce="{{ csp_nonce() }}">."""
    if not has_request_context():
        return ""
    nonce = g.get("_csp_nonce")
    if nonce is None:
        nonce = g._csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce):
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _reject_hostile_query():
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400, _("The address contains a character that is not allowed."))
        if len(value) > MAX_QUERY_VALUE or len(key) > 100:
            abort(400, _("A value in the address is too long."))
    # Reading request.form fixes the body's size limit: the API sets its own, smaller one first (api/__init__.py).
    if request.blueprint != "api" and request.mimetype in FORM_TYPES:
        for key, value in request.form.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, _("The form contains a character that is not allowed."))


def _set_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if current_app.config.get("PREFERRED_URL_SCHEME") == "https":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    is_static = request.endpoint in ("static", "admin.static") or (request.endpoint or "").endswith(".static")
    if not is_static:
        # Pages and files with personal data are never kept by the browser or a proxy: every page and download, signed
        # in or not. Only the application's static files (no personal data) are cached (SEND_FILE_MAX_AGE_DEFAULT).
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's server without its "Server: Werkzeug/x Python/y" banner (the demo and tests/security use it)."""

    def version_string(self):
        return "backoffice"


def install(app):
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_reject_hostile_query)
    app.after_request(_set_headers)
