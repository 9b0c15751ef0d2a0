"""The admin manages staff accounts: bad input is refused field by field, least privilege holds, all is audited."""
import json
import re

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.security import StaffSession
from backoffice.models.staff import StaffUser
from tests.clock import clock  # noqa: F401  (fixture)
from tests.conftest import TEST_PASSWORD, AuthActions, totp_code

NEW = {"email": "New.Person@bekair.kz", "full_name": "New Person", "active": "y", "language": "kk"}


def _count_staff():
    return db.session.execute(select(func.count(StaffUser.id))).scalar()


def _user(email):
    db.session.expire_all()
    return db.session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one()


def _events(action):
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


@pytest.fixture
def second_admin(app, make_staff):
    """Another admin in their own browser."""
    other = app.test_client()
    actions = AuthActions(other, make_staff)
    actions.login_as("admin")
    return other, actions.user


def _act(client, user, op):
    return client.post("/admin/staff/account-action/", data={"id": user.id, "op": op})


def test_admin_creates_an_account_without_knowing_its_password(client, login_as):
    login_as("admin")
    before = _count_staff()
    response = client.post("/admin/staff/new/", data={**NEW, "role_list": ["admin"]}, follow_redirects=True)
    assert _count_staff() == before + 1
    user = _user("new.person@bekair.kz")
    assert user.role_set == {"admin"} and user.must_change_password and user.reset_code_hash
    assert "one-time code" in response.get_data(as_text=True)
    event = _events("staff.create")[0]
    assert event.object_id == str(user.id) and "bekair" not in (event.details or "")


def test_client_data_roles_wait_for_a_second_admin(client, login_as, second_admin):
    me = login_as("admin")
    client.post("/admin/staff/new/", data={**NEW, "role_list": ["support", "supervisor"]})
    user = _user("new.person@bekair.kz")
    assert user.role_set == frozenset()
    # The requesting admin cannot approve their own request.
    _act(client, user, "approve_grant")
    assert _user(user.email).role_set == frozenset()
    other_client, other = second_admin
    _act(other_client, user, "approve_grant")
    assert _user(user.email).role_set == {"support", "supervisor"}
    approved = _events("staff.role_grant_approved")
    assert len(approved) == 1 and approved[0].actor_id == other.id
    page = client.get(f"/admin/staff/details/?id={user.id}").get_data(as_text=True)
    assert "approved" in page and f"#{me.id}" in page


def test_role_change_is_audited_and_ends_the_users_sessions(client, login_as, make_staff, app):
    login_as("admin")
    other = make_staff("manager")
    AuthActions(app.test_client(), make_staff).login(other)
    assert db.session.execute(select(func.count()).select_from(StaffSession)
                              .where(StaffSession.user_id == other.id)).scalar() == 1
    response = client.post(f"/admin/staff/edit/?id={other.id}", data={
        "email": other.email, "full_name": "x", "active": "y", "role_list": ["supervisor", "manager"][1:]})
    assert response.status_code == 302
    response = client.post(f"/admin/staff/edit/?id={other.id}", data={
        "email": other.email, "full_name": "x", "active": "y", "role_list": ["admin", "manager"]})
    assert response.status_code == 302
    assert _user(other.email).role_set == {"admin", "manager"}  # admin is not a client-data role: no approval
    details = json.loads(_events("staff.update")[-1].details)
    assert details["roles_after"] == ["admin", "manager"] and details["roles_before"] == ["manager"]
    assert details["sessions_ended"] == 1


def test_nobody_grants_themselves_a_role_or_locks_themselves_out(client, auth):
    me = auth.login_as("admin")
    for roles, active in ((["admin", "support"], "y"), (["support"], "y"), (["admin"], "")):
        response = client.post(f"/admin/staff/edit/?id={me.id}", data={
            "email": me.email, "full_name": "me", "active": active, "role_list": roles})
        assert response.status_code == 200
        assert "cannot change your own roles" in response.get_data(as_text=True)
    assert _user(me.email).role_set == {"admin"} and _user(me.email).active


def test_refuse_policy_keeps_admins_away_from_client_data(app, client, login_as, make_staff):
    app.config["ROLE_GRANT_POLICY"] = "refuse"
    login_as("admin")
    other = make_staff("admin")
    response = client.post(f"/admin/staff/edit/?id={other.id}", data={
        "email": other.email, "full_name": "x", "active": "y", "role_list": ["admin", "support"]})
    assert response.status_code == 200
    assert _user(other.email).role_set == {"admin"}
    client.post(f"/admin/staff/edit/?id={other.id}", data={
        "email": other.email, "full_name": "x", "active": "y", "role_list": ["support"]})
    assert _user(other.email).role_set == {"support"}


def test_bad_input_gives_field_errors_and_changes_nothing(client, login_as):
    login_as("admin")
    before = _count_staff()
    for data in (
        {"email": "not-an-email", "role_list": ["support"]},
        {"email": "ok@bekair.kz", "role_list": []},
        {"email": "x" * 250 + "@bekair.kz", "role_list": ["support"]},
        {"email": "ok@bekair.kz", "role_list": ["wizard"]},
        {"email": "ok@bekair.kz", "full_name": "N" * 500, "role_list": ["support"]},
    ):
        response = client.post("/admin/staff/new/", data=data)
        assert response.status_code == 200, data
        assert _count_staff() == before, data


def test_duplicate_email_is_refused(client, login_as, make_staff):
    login_as("admin")
    other = make_staff("support")
    before = _count_staff()
    response = client.post("/admin/staff/new/", data={"email": other.email, "role_list": ["support"]})
    assert response.status_code == 200
    assert _count_staff() == before


def test_reset_leaves_no_usable_password_and_forces_a_change(app, client, login_as, make_staff):
    login_as("admin")
    other = make_staff("support")
    theirs = app.test_client()
    AuthActions(theirs, make_staff).login(other)
    response = _act(client, other, "reset_password")
    assert response.status_code == 302
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    code = flashed.split("valid 24 hours): ")[1].split("<")[0].strip()
    # Their old session ended at once, and the old password no longer opens the account.
    assert theirs.get("/admin/").status_code == 302
    assert theirs.post("/login", data={"email": other.email, "password": TEST_PASSWORD}).status_code == 200
    # The one-time code opens nothing without the user's own second factor, then only "choose a new password".
    response = theirs.post("/login", data={"email": other.email, "password": code})
    assert response.headers["Location"].endswith("/login/code")
    response = theirs.post("/login/code", data={"code": totp_code(other)})
    assert response.headers["Location"].endswith("/account/password")
    assert theirs.get("/admin/requests/").headers["Location"].endswith("/account/password")
    response = theirs.post("/account/password", data={"new": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert theirs.get("/admin/").status_code == 200
    theirs.post("/logout")
    assert theirs.post("/login", data={"email": other.email, "password": code}).status_code == 200
    assert [e.action for e in _events("staff.password_reset")] == ["staff.password_reset"]


def test_admin_signs_a_user_out_everywhere_and_unlocks(app, client, login_as, make_staff, clock):
    other = make_staff("support")
    for _ in range(app.config["LOGIN_LOCKOUT_AFTER"]):
        app.test_client().post("/login", data={"email": other.email, "password": "wrong wrong wrong"})
        clock.advance(minutes=20)
    theirs = app.test_client()
    response = theirs.post("/login", data={"email": other.email, "password": TEST_PASSWORD})
    assert response.status_code == 429 and "locked" in response.get_data(as_text=True)
    login_as("admin")
    assert "locked" in client.get("/admin/staff/").get_data(as_text=True)
    _act(client, other, "unlock")
    AuthActions(theirs, make_staff).login(other)
    assert {e.action for e in _events("auth.unlock")} == {"auth.unlock"}
    _act(client, other, "sign_out_everywhere")
    assert theirs.get("/admin/").status_code == 302


def test_account_actions_are_admin_only(client, login_as, make_staff):
    login_as("support", "manager", "supervisor")
    other = make_staff("support")
    assert _act(client, other, "reset_password").status_code == 403


def _alerts(html):
    return [" ".join(re.sub(r"<[^>]+>|&times;", " ", a).split())
            for a in re.findall(r'<div class="alert alert-danger[^"]*">(.*?)</div>', html, re.S)]


def _in(app, language, message, **values):
    from flask_babel import force_locale
    from flask_babel import gettext

    with app.test_request_context(), force_locale(language):
        return gettext(message, **values)


BAD_FIELDS = (
    ({"email": "not-an-email"}, "E-mail", "Enter a valid e-mail address."),
    ({"language": "xx"}, "Language", "Choose a language from the list."),
    ({"role_list": []}, "Roles", "Choose at least one role."),
)


@pytest.mark.parametrize("form", ["create", "edit"])
@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_a_refused_form_says_which_field_and_why_in_the_users_language(app, client, login_as, make_staff, form,
                                                                        language):
    login_as("admin")
    client.post(f"/language/{language}", data={})
    other = make_staff("support")
    url = "/admin/staff/new/" if form == "create" else f"/admin/staff/edit/?id={other.id}"
    good = {"email": "fresh@bekair.kz" if form == "create" else other.email, "full_name": "Fresh", "active": "y",
            "language": "ru", "role_list": ["support"]}
    before = (_count_staff(), other.email, other.language, sorted(other.role_set))
    outcome = "The account was not created. %(problems)s" if form == "create" else \
        "The changes were not saved. %(problems)s"
    for change, field, reason in BAD_FIELDS:
        html = client.post(url, data={**good, **change}).get_data(as_text=True)
        label = _in(app, language, field)
        why = _in(app, language, reason)
        problem = _in(app, language, "%(field)s: %(reason)s", field=label, reason=why)
        assert _alerts(html) == [_in(app, language, outcome, problems=problem)], (change, _alerts(html))
        assert f"<li>{why}</li>" in html, change  # and under the field itself
        assert "Failed to" not in html
        updated = _user(other.email)
        assert (_count_staff(), updated.email, updated.language, sorted(updated.role_set)) == before, change
    if language != "en":
        assert _in(app, language, "Choose a language from the list.") != "Choose a language from the list."


def test_a_refused_edit_keeps_the_roles_the_admin_ticked(client, login_as, make_staff):
    login_as("admin")
    other = make_staff("support")
    html = client.post(f"/admin/staff/edit/?id={other.id}", data={
        "email": "bad", "active": "y", "role_list": ["manager"]}).get_data(as_text=True)
    assert re.search(r'<input checked id="role_list-\d" name="role_list" type="checkbox" value="manager">', html)
    assert 'checked id="role_list-0" name="role_list" type="checkbox" value="support"' not in html


def test_the_service_refuses_a_language_the_back_office_does_not_speak(app, make_staff):
    from backoffice.services import staff as staff_service

    admin, other = make_staff("admin"), make_staff("support")
    for bad in ("xx", "EN", "en-US", "<b>"):
        with pytest.raises(staff_service.StaffError):
            staff_service.admin_update(other, admin, email=other.email, full_name="", roles={"support"},
                                       active=True, language=bad)
        with pytest.raises(staff_service.StaffError):
            staff_service.admin_create(admin, email="new@bekair.kz", full_name="", roles={"support"}, language=bad)
        db.session.rollback()
    assert _user(other.email).language is None
    assert staff_service.find_by_email("new@bekair.kz") is None
    staff_service.admin_update(other, admin, email=other.email, full_name="", roles={"support"}, active=True,
                               language="kk")
    assert _user(other.email).language == "kk"
