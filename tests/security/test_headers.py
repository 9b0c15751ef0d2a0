"""Security headers on every kind of page the server gives, read from a real server (issue 13)."""
import re

import pytest

from tests.factories import make_client

SCRIPT_RE = re.compile(r"<(script|style)\b([^>]*)>", re.I)
INLINE_HANDLER_RE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STATIC = ("/static/backoffice.css", "/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css")


def _check(response):
    where = f"{response.request.method} {response.url} → {response.status_code}"
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, where
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "no-referrer", where
    assert "camera=()" in headers.get("Permissions-Policy", ""), where
    assert "werkzeug" not in headers.get("Server", "").lower() and "python" not in headers.get("Server", "").lower()
    is_static = response.url.split("?")[0].endswith(STATIC)
    if is_static:  # no personal data in them, signed in or not: the browser keeps them instead of fetching each page
        assert response.status_code == 200 and "no-store" not in headers.get("Cache-Control", ""), where
        assert "max-age=3600" in headers.get("Cache-Control", ""), where
    else:
        assert headers.get("Cache-Control") == "no-store", where
    if "text/html" in headers.get("Content-Type", ""):
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        for tag, attributes in SCRIPT_RE.findall(response.text):
            if "src=" in attributes and tag.lower() == "script" and "nonce" not in attributes:
                continue  # same-origin files are allowed by 'self'
            assert f'nonce="{nonce}"' in attributes, f"{where}: <{tag}{attributes}> without this response's nonce"
        handler = INLINE_HANDLER_RE.search(response.text)
        assert handler is None, f"{where}: inline event handler {handler.group(0)[:80]!r} (blocked by the CSP)"


def test_headers_for_anonymous_pages(browser):
    for path in ("/login", "/login/code", "/admin/", "/nowhere", *STATIC):
        _check(browser.get(path))
    _check(browser.http.post(browser.base + "/api/v1/opt-outs", json={}))


@pytest.mark.parametrize("roles", [("support", "manager"), ("supervisor",), ("admin",)])
def test_headers_for_signed_in_pages_lists_details_forms_downloads_and_errors(app, browser, make_staff, roles):
    client = make_client()
    user = make_staff(*roles)
    browser.login(user)
    paths = ["/admin/", "/account/", "/account/password", "/nowhere", *STATIC]
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.endpoint.endswith(("index_view", ".index")):
            paths.append(rule.rule)
    paths += ["/admin/clients/details/?id=%d" % client.id, "/admin/requests/new/", "/admin/staff/new/",
              f"/admin/staff/details/?id={user.id}", "/admin/requests/export.csv", "/admin/audit/export.csv",
              "/admin/audit/?flt0_0=99999999999999999999999"]
    for path in paths:
        _check(browser.get(path))


def test_hsts_only_when_the_site_is_served_over_https(app, browser):
    assert "Strict-Transport-Security" not in browser.get("/login").headers
    app.config["PREFERRED_URL_SCHEME"] = "https"
    assert browser.get("/login").headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_login_page_cannot_be_framed(browser):
    headers = browser.get("/login").headers
    assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
