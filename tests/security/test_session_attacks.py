"""Stolen, replayed and forgotten sessions against the real server (issue 13)."""
import datetime as dt

import requests

from backoffice.extensions import db
from backoffice.models.staff import StaffUser
from tests.conftest import TEST_PASSWORD


def _copy(browser, new_browser):
    """Another browser holding a copy of `browser`'s cookies (a stolen cookie)."""
    thief = new_browser()
    thief.http.cookies = requests.utils.cookiejar_from_dict(browser.http.cookies.get_dict())
    return thief


def test_a_cookie_copied_before_logout_is_dead_after_it(browser, new_browser, make_staff):
    user = make_staff("support")
    browser.login(user)
    thief = _copy(browser, new_browser)
    assert thief.signed_in()
    browser.post("/logout")
    response = thief.get("/admin/clients/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_in_gives_a_new_session_and_csrf_secret(browser, make_staff):
    user = make_staff("support")
    before_cookie = (browser.get("/login"), browser.http.cookies.get("session"))[1]
    before_csrf = browser.csrf("/login")
    browser.login(user)
    assert browser.http.cookies.get("session") != before_cookie
    assert browser.csrf("/account/") != before_csrf
    # A form token from before sign-in is refused afterwards.
    response = browser.post("/account/sessions/end", {"csrf_token": before_csrf})
    assert response.status_code == 400


def test_idle_timeout_and_absolute_lifetime(app, browser, make_staff, clock):
    user = make_staff("support")
    browser.login(user)
    clock.advance(minutes=app.config["SESSION_IDLE_MINUTES"] - 1)
    assert browser.signed_in()
    clock.advance(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    assert not browser.signed_in()
    # Active all day, still ended at the absolute lifetime.
    browser.login(user)
    signed_in_at = clock.now
    while browser.signed_in():
        clock.advance(minutes=20)
        assert clock.now - signed_in_at <= dt.timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"], minutes=20)
    assert clock.now - signed_in_at > dt.timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])


def test_password_change_role_change_and_deactivation_end_sessions(browser, new_browser, make_staff, clock):
    user = make_staff("support")
    other_device = new_browser()
    other_device.login(user)
    browser.login(user)
    new = "a quiet river under the moon"
    assert browser.post("/account/password", {"current": TEST_PASSWORD, "new": new, "confirm": new}).status_code == 302
    assert browser.signed_in() and not other_device.signed_in()

    admin = new_browser()
    admin.login(make_staff("admin"))
    admin.post(f"/admin/staff/edit/?id={user.id}", {"email": user.email, "full_name": "x", "active": "y",
                                                    "role_list": ["supervisor"]}, csrf_from="/admin/staff/new/")
    assert not browser.signed_in()
    clock.advance(seconds=60)  # a TOTP code works once: the third sign-in within 30 s waits for the next one
    browser.login(user, password=new)
    assert browser.signed_in()
    admin.post(f"/admin/staff/edit/?id={user.id}", {"email": user.email, "full_name": "x", "active": "",
                                                    "role_list": ["supervisor"]}, csrf_from="/admin/staff/new/")
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).active is False
    assert not browser.signed_in()


def test_your_sessions_page_and_sign_out_everywhere_else(browser, new_browser, make_staff, clock):
    user = make_staff("support")
    laptop, phone = new_browser(), new_browser()
    laptop.login(user)
    phone.login(user)
    clock.advance(seconds=60)
    browser.login(user)
    page = browser.get("/account/").text
    assert page.count("btn-outline-danger btn-sm\">Sign out</button>") == 2 and "This session" in page
    browser.post("/account/sessions/end", {})
    assert browser.signed_in() and not laptop.signed_in() and not phone.signed_in()


def test_admin_signs_everyone_out(browser, new_browser, make_staff):
    user = make_staff("support")
    browser.login(user)
    admin = new_browser()
    admin.login(make_staff("admin"))
    admin.post("/admin/staff/account-action/", {"id": user.id, "op": "sign_out_everywhere"})
    assert not browser.signed_in()
