import pytest
from sqlalchemy import select

from backoffice.auth import safe_next
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from tests.conftest import TEST_PASSWORD


def test_login_redirects_to_home_and_audits(client, make_staff):
    user = make_staff("support")
    response = client.post("/login", data={"email": user.email.upper(), "password": TEST_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.object_id)).all()
    assert ("auth.login", str(user.id)) in actions


def test_wrong_password_is_refused_and_audited_without_the_email(client, make_staff):
    user = make_staff("support")
    response = client.post("/login", data={"email": user.email, "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert "Wrong e-mail or password" in response.get_data(as_text=True)
    client.post("/login", data={"email": "stranger@example.com", "password": "x"})
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).scalars().all()
    assert len(events) == 2
    assert all("stranger" not in (e.details or "") for e in events)
    assert client.get("/admin/").status_code == 302


def test_inactive_user_cannot_sign_in(client, make_staff):
    user = make_staff("manager")
    user.active = False
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/admin/requests/", "/admin/requests/"),
    ("https://evil.example/", None),
    ("//evil.example/", None),
    ("/\\evil.example", None),
    ("javascript:alert(1)", None),
    ("", None),
])
def test_next_is_only_followed_within_the_site(target, expected):
    assert safe_next(target) == expected


def test_login_follows_safe_next_only(client, make_staff):
    user = make_staff("support")
    response = client.post("/login?next=https://evil.example/", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.headers["Location"].endswith("/admin/")


def test_login_form_errors_are_field_errors(client):
    response = client.post("/login", data={"email": "x" * 300, "password": ""})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "is-invalid" in body


def test_logout_needs_post_and_ends_the_session(client, login_as):
    login_as("support")
    assert client.get("/logout").status_code == 405
    client.post("/logout")
    assert client.get("/admin/").status_code == 302


def test_csrf_is_enforced_on_login_when_enabled(app_config, make_staff):
    from backoffice import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    app = create_app(app_config)
    with app.app_context():
        response = app.test_client().post("/login", data={"email": "a@b.kz", "password": "x"})
        assert response.status_code == 400
        assert "Form expired" in response.get_data(as_text=True)


def test_language_switch_translates_the_login_page(client):
    from flask_babel import refresh

    # The test app context outlives requests, so Flask-Babel's per-context locale cache is cleared by hand.
    client.post("/language/ru", data={"next": "/login"})
    refresh()
    assert "Войти" in client.get("/login").get_data(as_text=True)
    client.post("/language/kk", data={"next": "/login"})
    refresh()
    assert "Кіру" in client.get("/login").get_data(as_text=True)
