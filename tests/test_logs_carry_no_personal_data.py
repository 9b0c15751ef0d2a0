"""Application logs carry no personal data (policy 4.3), through a whole demo session on a real server."""
import http.cookiejar
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request

import pyotp
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from backoffice.extensions import db
from backoffice.logging_policy import PersonalDataFilter, redact
from backoffice.models.clients import Client
from backoffice.models.records import Booking
from backoffice.models.staff import ROLES, StaffUser
from backoffice.services import demo
from tests.conftest import TEST_TOTP_SECRET

DEMO_PASSWORD = "demo-password-for-tests"
ALL_LOGGERS = ("", "werkzeug", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.engine.Engine", "sqlalchemy.pool",
               "backoffice", "flask-admin", "flask-admin.sqla", "flask_admin", "flask_babel", "rq", "urllib3")


class Browser:
    """A staff member's browser against the real werkzeug server (so its access log is exercised too)."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, path, data=None):
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


def _personal_data():
    values = set()
    for client in db.session.execute(select(Client)).scalars():
        values.update({client.full_name, client.email, client.email_norm, client.phone, client.phone_e164, client.iin,
                       client.name_key})
        values.update(client.full_name.split())
    for booking in db.session.execute(select(Booking)).scalars():
        values.update({booking.document_number, booking.passenger_name})
    for staff in db.session.execute(select(StaffUser)).scalars():
        values.add(staff.email)
    return {v for v in values if v and len(v) >= 4}


@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


def test_a_full_demo_session_logs_no_personal_data(app, server, caplog, monkeypatch):
    demo.seed_demo(DEMO_PASSWORD, clients=25, totp_secret=TEST_TOTP_SECRET)
    clients = db.session.execute(select(Client).order_by(Client.id).limit(4)).scalars().all()
    searches = [clients[0].email, clients[1].phone, clients[1].phone_e164, clients[2].iin,
                clients[3].full_name.split()[0], clients[3].full_name]
    forbidden = _personal_data() | set(searches)
    for name in ALL_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    # Alembic's fileConfig (run by migration tests in this process) disables existing loggers; hear them all.
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.disabled:
            monkeypatch.setattr(logger, "disabled", False)

    for role in ROLES:
        browser = Browser(server)
        status, _ = browser.open("/login", {"email": f"{role}@{demo.DEMO_DOMAIN}", "password": DEMO_PASSWORD})
        assert status == 200
        status, _ = browser.open("/login/code", {"code": pyotp.TOTP(TEST_TOTP_SECRET).now()})
        assert status == 200
        for path in ("/admin/", "/admin/requests/", "/admin/clients/", "/admin/optouts/", "/admin/audit/",
                     "/admin/staff/"):
            browser.open(path)
        if role != "admin":
            for term in searches:
                status, page = browser.open("/admin/clients/?" + urllib.parse.urlencode({"search": term}))
                assert status == 200
            for client in clients:
                status, page = browser.open(f"/admin/clients/details/?id={client.id}")
                assert status == 200 and client.iin in page  # the page shows it; the logs must not
        if role == "supervisor":
            browser.open("/admin/audit/export.csv")
            browser.open("/admin/audit/verify/", {})
        browser.open("/login", {"email": clients[0].email, "password": "not-a-staff-password"})
        browser.open("/logout", {})

    records = list(caplog.records)
    assert any(r.name == "werkzeug" and "/admin/clients/?" in r.getMessage() for r in records), \
        "the access log was not captured: the test would prove nothing"
    assert any(r.name.startswith("sqlalchemy.engine") for r in records), "SQL logging was not captured"
    logged = "\n".join([r.getMessage() for r in records] + [r.exc_text or "" for r in records] + [caplog.text])
    decoded = urllib.parse.unquote_plus(logged)
    leaks = sorted(v for v in forbidden if v in logged or v in decoded)
    assert leaks == []


@pytest.mark.parametrize("raw,expected", [
    ('127.0.0.1 - - [1/Dec/2026 09:37:20] "\x1b[32mGET /admin/clients/?search=+7 778 918 92 74 HTTP/1.1\x1b[0m" 302 -',
     '127.0.0.1 - - [1/Dec/2026 09:37:20] "\x1b[32mGET /admin/clients/?[query removed] HTTP/1.1\x1b[0m" 302 -'),
    ('127.0.0.1 - - [25/Nov/2026 12:00:00] "GET /admin/clients/?search=a%40b.kz HTTP/1.1" 200 -',
     '127.0.0.1 - - [25/Nov/2026 12:00:00] "GET /admin/clients/?[query removed] HTTP/1.1" 200 -'),
    ("lookup for aigul.s@mail.kz failed", "lookup for [e-mail] failed"),
    ("iin 850101300123 and phone +7 701 555 12 34", "iin [number] and phone [number]"),
    ("client 12345 at 2026-11-25 12:00:00.123456 took 0.25s", "client 12345 at 2026-11-25 12:00:00.123456 took 0.25s"),
])
def test_redact(raw, expected):
    assert redact(raw) == expected


def test_filter_drops_sqlalchemy_row_dumps_and_redacts_arguments():
    flt = PersonalDataFilter()
    row = logging.LogRecord("sqlalchemy.engine.Engine", logging.DEBUG, __file__, 1, "Row %r", (("Иванов", "a@b.kz"),),
                            None)
    assert flt.filter(row) is False
    record = logging.LogRecord("backoffice", logging.INFO, __file__, 1, "sent to %s", ("a@b.kz",), None)
    assert flt.filter(record) is True and record.getMessage() == "sent to [e-mail]"
