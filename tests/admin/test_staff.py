"""The admin manages staff accounts: bad input is refused field by field, role changes are audited."""
import json

from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.staff import StaffUser


def _count_staff():
    return db.session.execute(select(func.count(StaffUser.id))).scalar()


def test_admin_creates_a_user_with_roles(client, login_as):
    login_as("admin")
    before = _count_staff()
    response = client.post("/admin/staff/new/", data={
        "email": "New.Person@bekair.kz", "full_name": "New Person", "active": "y", "language": "kk",
        "role_list": ["support", "supervisor"], "new_password": "long-enough-pass"})
    assert response.status_code == 302
    assert _count_staff() == before + 1
    user = db.session.execute(select(StaffUser).where(StaffUser.email == "new.person@bekair.kz")).scalar_one()
    assert user.role_set == {"support", "supervisor"}
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "staff.create")).scalar_one()
    assert event.object_id == str(user.id) and "bekair" not in (event.details or "")


def test_bad_input_gives_field_errors_and_changes_nothing(client, login_as):
    login_as("admin")
    before = _count_staff()
    for data in (
        {"email": "not-an-email", "role_list": ["support"], "new_password": "long-enough-pass"},
        {"email": "ok@bekair.kz", "role_list": [], "new_password": "long-enough-pass"},
        {"email": "ok@bekair.kz", "role_list": ["support"], "new_password": "short"},
        {"email": "ok@bekair.kz", "role_list": ["support"], "new_password": ""},
        {"email": "x" * 250 + "@bekair.kz", "role_list": ["support"], "new_password": "long-enough-pass"},
        {"email": "ok@bekair.kz", "role_list": ["wizard"], "new_password": "long-enough-pass"},
        {"email": "ok@bekair.kz", "full_name": "N" * 500, "role_list": ["support"],
         "new_password": "long-enough-pass"},
    ):
        response = client.post("/admin/staff/new/", data=data)
        assert response.status_code == 200, data
        assert _count_staff() == before, data


def test_role_change_is_audited_with_before_and_after(client, login_as, make_staff):
    login_as("admin")
    other = make_staff("support")
    response = client.post(f"/admin/staff/edit/?id={other.id}", data={
        "email": other.email, "full_name": "x", "active": "y", "role_list": ["manager"], "new_password": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(StaffUser, other.id).role_set == {"manager"}
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "staff.update")).scalar_one()
    details = json.loads(event.details)
    assert details["roles_after"] == ["manager"] and details["roles_before"] == ["support"]


def test_admin_cannot_lock_themselves_out(client, auth, make_staff):
    me = auth.login_as("admin")
    response = client.post(f"/admin/staff/edit/?id={me.id}", data={
        "email": me.email, "full_name": "me", "active": "y", "role_list": ["support"], "new_password": ""})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(StaffUser, me.id).role_set == {"admin"}


def test_duplicate_email_is_refused(client, login_as, make_staff):
    login_as("admin")
    other = make_staff("support")
    before = _count_staff()
    response = client.post("/admin/staff/new/", data={
        "email": other.email, "role_list": ["support"], "new_password": "long-enough-pass"})
    assert response.status_code == 200
    assert _count_staff() == before
