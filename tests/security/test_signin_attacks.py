"""Brute force, enumeration and weak passwords against the real server (issue 13)."""
import re

import pyotp

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from tests.conftest import TEST_PASSWORD


def _flash(response):
    match = re.search(r'class="alert alert-\w+">([^<]+)<', response.text)
    return match.group(1).strip() if match else ""


def test_brute_force_is_throttled_then_locked_until_an_admin_unlocks(app, browser, new_browser, make_staff, clock):
    victim = make_staff("manager")
    config = app.config
    statuses = []
    for _ in range(config["LOGIN_LOCKOUT_AFTER"] + 5):
        attacker = new_browser()  # fresh, cookie-less sessions are limited too
        statuses.append(attacker.post("/login", {"email": victim.email, "password": "guess-guess-guess"},
                                      csrf_from="/login").status_code)
    # After LOGIN_BACKOFF_AFTER failures the next try is refused before the password is even checked.
    assert statuses[:config["LOGIN_BACKOFF_AFTER"]] == [200] * config["LOGIN_BACKOFF_AFTER"]
    assert statuses[config["LOGIN_BACKOFF_AFTER"]] == 429
    # Keep guessing while waiting out each back-off: the account locks after LOGIN_LOCKOUT_AFTER failures.
    for _ in range(config["LOGIN_LOCKOUT_AFTER"]):
        clock.advance(seconds=config["LOGIN_BACKOFF_MAX_SECONDS"])
        new_browser().post("/login", {"email": victim.email, "password": "guess-guess-guess"}, csrf_from="/login")
    clock.advance(hours=2)
    locked = browser.login(victim)
    assert locked.status_code == 429 and "locked" in _flash(locked)
    assert not browser.signed_in()
    # An admin lifts it; then the right password (and second factor) signs in.
    admin_browser = new_browser()
    admin = make_staff("admin")
    assert admin_browser.login(admin).status_code == 302
    admin_browser.post("/admin/staff/account-action/", {"id": victim.id, "op": "unlock"})
    assert browser.login(victim).status_code == 302 and browser.signed_in()


def test_unknown_accounts_get_the_same_answers(app, new_browser, make_staff, clock):
    known = make_staff("support")
    answers = {}
    for email in (known.email, "nobody-here@bekair.kz"):
        seen = []
        for _ in range(app.config["LOGIN_BACKOFF_AFTER"] + 1):
            response = new_browser().post("/login", {"email": email, "password": "guess-guess-guess"},
                                          csrf_from="/login")
            seen.append((response.status_code, _flash(response)))
        answers[email] = seen
        clock.advance(hours=2)
    assert answers[known.email] == answers["nobody-here@bekair.kz"]


def test_per_ip_back_off_covers_many_accounts(app, browser, make_staff, clock):
    app.config["LOGIN_IP_BACKOFF_AFTER"] = 5
    for n in range(5):
        browser.post("/login", {"email": f"spray{n}@bekair.kz", "password": "guess-guess-guess"}, csrf_from="/login")
    user = make_staff("support")
    assert browser.login(user).status_code == 429
    clock.advance(seconds=app.config["LOGIN_BACKOFF_MAX_SECONDS"] + 1)
    assert browser.login(user).status_code == 302


def test_weak_passwords_are_refused_and_a_good_one_is_taken(browser, make_staff):
    user = make_staff("support")
    user.full_name = "Aigerim Nurlanova"
    db.session.commit()
    assert browser.login(user).status_code == 302
    for weak in ("aaaaaaaaaaaa", "1234567890", "password12", "password1234", "qwertyqwerty",
                 "aigerim-2026!", user.email, "short-one"):
        response = browser.post("/account/password", {"current": TEST_PASSWORD, "new": weak, "confirm": weak},
                                allow_redirects=True)
        assert "alert-danger" in response.text, weak
    good = "seven blue camels at dawn"
    response = browser.post("/account/password", {"current": TEST_PASSWORD, "new": good, "confirm": good})
    assert response.status_code == 302
    browser.post("/logout")
    assert browser.login(user, password=good).status_code == 302
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))).scalars().all()
    assert "auth.password_change" in actions


def test_second_factor_is_required_and_codes_work_once(app, browser, new_browser, make_staff, clock):
    manager = make_staff("manager")
    manager.totp_secret = None
    db.session.commit()
    # A manager without a second factor is sent to set one up; no session exists before that.
    response = browser.post("/login", {"email": manager.email, "password": TEST_PASSWORD}, csrf_from="/login")
    assert response.headers["Location"].endswith("/login/enrol")
    assert browser.get("/admin/").status_code == 302
    page = browser.get("/login/enrol").text
    assert "<svg" in page
    secret = re.search(r"<code[^>]*>([A-Z2-7]{16,})</code>", page).group(1)
    code = pyotp.TOTP(secret).now()
    response = browser.post("/login/enrol", {"code": code}, csrf_from="/login/enrol")
    assert response.status_code == 200 and "Recovery codes" in response.text
    recovery = re.findall(r"<code>([0-9a-f]{6}-[0-9a-f]{6})</code>", response.text)
    assert len(recovery) == 10 and browser.signed_in()
    # The same code is not accepted twice; a wrong one neither; a recovery code works once.
    other = new_browser()
    other.post("/login", {"email": manager.email, "password": TEST_PASSWORD}, csrf_from="/login")
    for bad in (code, "000000", "abc"):
        assert other.post("/login/code", {"code": bad}, csrf_from="/login/code").status_code == 200
    clock.advance(seconds=2)  # the wrong codes count like wrong passwords: wait out the back-off
    assert other.post("/login/code", {"code": recovery[0]}, csrf_from="/login/code").status_code == 302
    third = new_browser()
    third.post("/login", {"email": manager.email, "password": TEST_PASSWORD}, csrf_from="/login")
    assert third.post("/login/code", {"code": recovery[0]}, csrf_from="/login/code").status_code == 200
    assert not third.signed_in()


def test_next_with_a_header_injection_is_not_followed(browser, make_staff):
    user = make_staff("support")
    response = browser.login(user, next_path="/%0d%0aSet-Cookie:%20x=1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert "x" not in browser.http.cookies.get_dict()


def test_the_wait_is_said_in_the_readers_language_with_its_plural(app, new_browser, make_staff, clock):
    """The throttled sign-in says how long to wait in the reader's language, the count with its grammatical form
    (the clock stands still: the wait cannot run out between the tries)."""
    victim = make_staff("manager")
    attacker = new_browser()
    attacker.http.headers["Accept-Language"] = "ru"
    for _ in range(app.config["LOGIN_BACKOFF_AFTER"]):
        attacker.post("/login", {"email": victim.email, "password": "guess-guess-guess"}, csrf_from="/login")
    refused = attacker.post("/login", {"email": victim.email, "password": "guess-guess-guess"}, csrf_from="/login")
    # The back-off stands at 2 s here: Russian's "few" form (1 секунду, 2 секунды, 5 секунд).
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    assert _flash(refused) == "Слишком много неудачных попыток входа. Подождите 2 секунды и попробуйте снова."
