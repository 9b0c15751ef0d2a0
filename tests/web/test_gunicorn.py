"""The production web server as configured in gunicorn.conf.py: a real gunicorn, a real HTTP client.

Search terms are personal data: gunicorn's access log must hold the path of a search, never its query string.
"""
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD
from tests.factories import make_client

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(app, tmp_path):
    """gunicorn -c gunicorn.conf.py wsgi:app on a free port, on the test database; yields (base URL, log paths)."""
    port = free_port()
    logs = {"access": tmp_path / "access.log", "error": tmp_path / "error.log"}
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="test-secret",
               BACKOFFICE_HASH_KEY=app.config["BACKOFFICE_HASH_KEY"],
               BACKOFFICE_INSTANCE_PATH=str(tmp_path / "web-instance"), GUNICORN_BIND=f"127.0.0.1:{port}",
               GUNICORN_WORKERS="1", GUNICORN_ACCESS_LOG=str(logs["access"]), GUNICORN_ERROR_LOG=str(logs["error"]))
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    error = logs["error"].read_text() if logs["error"].exists() else ""
                    pytest.fail(f"gunicorn did not start: {error[-2000:]}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", logs
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_access_log_holds_no_query_string_or_search_term(app, make_staff, gunicorn):
    base, logs = gunicorn
    staff = make_staff("support")
    client = make_client(email="aigerim.secret@mail.kz")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login_page = browser.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    signed_in = browser.open(f"{base}/login", data=urllib.parse.urlencode(
        {"email": staff.email, "password": TEST_PASSWORD, "csrf_token": token}).encode())
    assert "/login" not in signed_in.geturl()

    terms = {"email": client.email, "iin": client.iin}
    for term in terms.values():
        page = browser.open(f"{base}/admin/clients/?search={urllib.parse.quote(term)}&page=0")
        assert page.status == 200
        assert client.email in page.read().decode()  # the search really ran and found the client
    urllib.request.urlopen(f"{base}/admin/clients/?search={urllib.parse.quote(client.email)}")  # anonymous

    server_log = logs["access"].read_text() + logs["error"].read_text()
    lines = [line for line in logs["access"].read_text().splitlines() if "/admin/clients/" in line]
    # A typed ?search=term is swapped for an opaque token at once (issue 13): each search is a 302 then the 200 of the
    # token's page; the anonymous one is a 302 to the login page.
    assert len(lines) == 5, logs["access"].read_text()
    for line in lines:
        assert '"GET /admin/clients/ HTTP/1.1"' in line, line
    assert "?" not in logs["access"].read_text()
    for term in (*terms.values(), urllib.parse.quote(client.email), "search="):
        assert term not in server_log, term
