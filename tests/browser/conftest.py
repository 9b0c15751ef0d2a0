"""A live back-office (werkzeug in a thread, SQLite file, demo data, embedded worker) and Debian's Chromium.

The browser is /usr/bin/chromium from the Debian package (`apt-get install -y chromium`, done by .ci/run), driven by
Playwright without `playwright install`. Without it the browser tests are skipped on a developer machine and
FAIL in CI (CI=true). axe-core (tests/assets/axe.min.js, from `npm pack axe-core@4.14.1`) runs on every page.
"""
import os
import threading
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select
from werkzeug.serving import make_server

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models.staff import StaffUser
from backoffice.services import second_factor
from backoffice.services import staff as staff_service

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent.parent / "assets" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
PASSWORD = "browser-demo-password"
TOTP_SECRET = pyotp.random_base32()
SCREENSHOT_LANGUAGES = ("en", "kk")  # shown in the README


@pytest.fixture(scope="session")
def _chromium():
    if not Path(CHROMIUM).exists():
        reason = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}; .ci/run installs it")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(_chromium, browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, _cheap_password_hashing):
    from flask_migrate import upgrade

    from backoffice.services import demo

    root = tmp_path_factory.mktemp("live")
    app = create_app({
        "SECRET_KEY": "browser-secret", "BACKOFFICE_HASH_KEY": "browser-hash-key", "REDIS_URL": None,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'live.db'}", "INSTANCE_PATH": str(root / "instance"),
        "EXPORT_DIR": str(root / "exports"), "SERVER_NAME": None,
        # Pages ask for a running job's status every 0.2 s instead of 2 s: the journeys wait for what they watch.
        "LIVE_STATUS_INTERVAL_MS": 200,
    })
    with app.app_context():
        upgrade()
        demo.seed_demo(PASSWORD, clients=30)
        # One account per role and language: a TOTP code works once per 30-second step, so each journey signs in
        # with its own account instead of waiting for the clock.
        for role in ("support", "manager", "supervisor", "admin"):
            for language in ("en", "kk", "ru"):
                staff_service.create_user(f"{role}-{language}@demo.local", PASSWORD, {role}, full_name=f"{role} {language}")
        # The second factor (security branch): every demo account gets a known TOTP secret; login types its code.
        for user in db.session.execute(select(StaffUser)).scalars():
            user.totp_secret = TOTP_SECRET
        db.session.commit()
    app.start_embedded_worker()
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Visitor:
    """One signed-in browser tab: every page it opens is checked with axe-core (serious/critical → failure)."""

    def __init__(self, page, base, language, app):
        self.page, self.base, self.language, self.app = page, base, language, app
        self.violations = []

    def login(self, email):
        self.page.goto(f"{self.base}/login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit].btn-primary")
        self.page.wait_for_load_state()
        if self.page.url.endswith("/login/code"):
            self.page.fill("#code", self.totp_code(email))
            self.page.click("button[type=submit].btn-primary")
        self.page.wait_for_url("**/admin/**")
        self.set_language(self.language)
        self.axe()

    def totp_code(self, email):
        """A code the server has not accepted yet for this account (each 30-second step works once)."""
        with self.app.app_context():
            user = db.session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one()
            step = max(second_factor.current_step(), (user.totp_last_step or 0) + 1)
        return pyotp.TOTP(TOTP_SECRET).at(step * 30)

    def set_language(self, code):
        self.page.click(f"form[action='/language/{code}'] button")
        self.page.wait_for_load_state()

    def go(self, path):
        response = self.page.goto(self.base + path)
        assert response.status < 500, f"{path} → {response.status}"
        self.axe()
        return response

    def axe(self):
        # A page with live status reloads itself once its job ends (static/live_status.js): if that navigation
        # lands mid-scan, scan the page it loaded.
        for attempt in range(3):
            try:
                self.page.add_script_tag(path=str(AXE))
                # resultTypes: only violations are reported in full (axe stops collecting every passing node).
                result = self.page.evaluate(
                    "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},"
                    " resultTypes: ['violations']})")
                break
            except PlaywrightError as error:
                if "context was destroyed" not in str(error) or attempt == 2:
                    raise
                self.page.wait_for_load_state()
        for v in result["violations"]:
            if v["impact"] in ("serious", "critical"):
                self.violations.append((self.page.url, v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5]))

    def screenshot(self, name):
        if self.language not in SCREENSHOT_LANGUAGES:
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{self.language}.png"), full_page=False)


@pytest.fixture
def visit(_chromium, browser, live_server, live_app):
    contexts = []

    def open_as(email, language="en"):
        context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True, bypass_csp=True,  # axe is injected inline
                                      locale={"kk": "kk-KZ", "ru": "ru-RU"}.get(language, "en-US"))
        contexts.append(context)
        visitor = Visitor(context.new_page(), live_server, language, live_app)
        visitor.login(email)
        return visitor

    yield open_as
    for context in contexts:
        context.close()
