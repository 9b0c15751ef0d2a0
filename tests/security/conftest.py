"""The attack suite runs against a real server: werkzeug on a free port in a thread, driven by `requests`.

The app is the test app (its database, its config), with CSRF protection on as in production. Throttling and
session expiry move with the `clock` fixture (tests/clock.py), never by sleeping.
"""
import re
import threading

import pytest
import requests
from werkzeug.serving import make_server

from backoffice.extensions import db
from backoffice.http_security import QuietRequestHandler
from tests.clock import clock  # noqa: F401  (fixture)
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET, totp_code

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """One browser: its own cookie jar; redirects are not followed unless asked."""

    def __init__(self, base):
        self.base = base
        self.http = requests.Session()

    def get(self, path, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return self.http.get(self.base + path, timeout=30, **kwargs)

    def post(self, path, data=None, csrf_from=None, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        data = dict(data or {})
        if "csrf_token" not in data:
            data["csrf_token"] = self.csrf(csrf_from or "/account/")
        return self.http.post(self.base + path, data=data, timeout=30, **kwargs)

    def csrf(self, page):
        match = CSRF_RE.search(self.get(page).text)
        return match.group(1) if match else ""

    def login(self, user, password=TEST_PASSWORD, next_path=None):
        """Sign in as a person would: password, then the code from their authenticator app."""
        if user.totp_secret is None:
            user.totp_secret = TEST_TOTP_SECRET
            db.session.commit()
        path = "/login" + (f"?next={next_path}" if next_path else "")
        response = self.post(path, {"email": user.email, "password": password}, csrf_from=path)
        if response.status_code == 302 and response.headers["Location"].endswith("/login/code"):
            response = self.post("/login/code", {"code": totp_code(user)}, csrf_from="/login/code")
        return response

    def signed_in(self):
        return self.get("/admin/").status_code == 200


@pytest.fixture
def live(app):
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def browser(live):
    return Browser(live)


@pytest.fixture
def new_browser(live):
    return lambda: Browser(live)
