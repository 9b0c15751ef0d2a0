"""Every audited action produces exactly one event with the right fields (policy 4.3).

Each case is (name, setup): `setup(h)` prepares what the action needs and returns (act, expected), where `act()`
performs the action once and `expected` lists the fields the single new event must have. Capabilities merged later
add their cases to CASES (request transitions, erasure, export download, opt-outs, imports, jobs).
"""
import json

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services import audit
from tests.conftest import TEST_PASSWORD
from tests.factories import make_client

LOCAL_IP = "127.0.0.1"


class Harness:
    def __init__(self, app, client, make_staff, auth):
        self.app, self.client, self.make_staff, self.auth = app, client, make_staff, auth

    def signed_in(self, *roles):
        return self.auth.login_as(*roles)


def _login(h):
    user = h.make_staff("support")

    def act():
        assert h.client.post("/login", data={"email": user.email, "password": TEST_PASSWORD}).status_code == 302
    return act, dict(action="auth.login", object_type="staff_user", object_id=str(user.id), actor_id=user.id,
                     actor_roles="support", outcome="success", ip=LOCAL_IP)


def _login_failed_known_account(h):
    user = h.make_staff("manager")

    def act():
        h.client.post("/login", data={"email": user.email, "password": "wrong-password-1"})
    return act, dict(action="auth.login_failed", object_type="staff_user", object_id=str(user.id), actor_id=None,
                     actor_roles="anonymous", outcome="failure", ip=LOCAL_IP, details=None)


def _login_failed_unknown_account(h):
    def act():
        h.client.post("/login", data={"email": "nobody@example.kz", "password": "wrong-password-1"})
    return act, dict(action="auth.login_failed", object_type="staff_user", object_id=None, actor_id=None,
                     actor_roles="anonymous", outcome="failure", ip=LOCAL_IP, details=None)


def _logout(h):
    user = h.signed_in("supervisor")

    def act():
        h.client.post("/logout")
    return act, dict(action="auth.logout", object_type="staff_user", object_id=str(user.id), actor_id=user.id,
                     actor_roles="supervisor", outcome="success", ip=LOCAL_IP)


def _staff_create(h):
    admin = h.signed_in("admin")

    def act():
        response = h.client.post("/admin/staff/new/", data={
            "email": "new.colleague@bekair.kz", "full_name": "New Colleague", "active": "y", "language": "kk",
            "role_list": ["support"], "new_password": "long-enough-password"})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return act, dict(action="staff.create", object_type="staff_user", actor_id=admin.id, actor_roles="admin",
                     outcome="success", ip=LOCAL_IP,
                     details={"roles_before": [], "roles_after": ["support"], "password_changed": True})


def _staff_role_change(h):
    colleague = h.make_staff("support")
    admin = h.signed_in("admin")

    def act():
        response = h.client.post(f"/admin/staff/edit/?id={colleague.id}", data={
            "email": colleague.email, "full_name": colleague.full_name, "active": "y", "language": "",
            "role_list": ["support", "manager"], "new_password": ""})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return act, dict(action="staff.update", object_type="staff_user", object_id=str(colleague.id),
                     actor_id=admin.id, actor_roles="admin", outcome="success", ip=LOCAL_IP,
                     details={"roles_before": ["support"], "roles_after": ["manager", "support"],
                              "password_changed": False})


def _staff_create_by_cli(h):
    def act():
        result = h.app.test_cli_runner().invoke(
            args=["create-user", "cli.user@bekair.kz", "--role", "supervisor", "--password-env", "CLI_PW"],
            env={"CLI_PW": "long-enough-password"})
        assert result.exit_code == 0, result.output
    return act, dict(action="staff.create", object_type="staff_user", actor_id=None, actor_roles="system",
                     outcome="success", details={"roles": ["supervisor"]})


def _client_full_record_read(h):
    client = make_client()
    reader = h.signed_in("support")

    def act():
        assert h.client.get(f"/admin/clients/details/?id={client.id}").status_code == 200
    return act, dict(action="client.read_full_record", object_type="client", object_id=str(client.id),
                     actor_id=reader.id, actor_roles="support", outcome="success", ip=LOCAL_IP,
                     details={"purpose": "view"})


def _audit_log_export(h):
    supervisor = h.signed_in("supervisor")

    def act():
        response = h.client.get("/admin/audit/export.csv")
        assert response.status_code == 200
        response.get_data()
    return act, dict(action="audit.export", object_type="audit_log", actor_id=supervisor.id,
                     actor_roles="supervisor", outcome="success", ip=LOCAL_IP, details={"filters": {}})


def _audit_chain_check(h):
    supervisor = h.signed_in("supervisor")

    def act():
        assert h.client.post("/admin/audit/verify/").status_code == 302
    return act, dict(action="audit.verify", object_type="audit_chain", actor_id=supervisor.id,
                     actor_roles="supervisor", outcome="success", ip=LOCAL_IP)


CASES = [
    ("login", _login),
    ("login failed, known account", _login_failed_known_account),
    ("login failed, unknown account", _login_failed_unknown_account),
    ("logout", _logout),
    ("staff create", _staff_create),
    ("staff role change", _staff_role_change),
    ("staff create from the CLI", _staff_create_by_cli),
    ("client full-record read", _client_full_record_read),
    ("audit log export", _audit_log_export),
    ("audit chain check", _audit_chain_check),
]


@pytest.mark.parametrize("name,setup", CASES, ids=[name for name, _ in CASES])
def test_action_produces_exactly_one_event(app, client, make_staff, auth, name, setup):
    act, expected = setup(Harness(app, client, make_staff, auth))
    db.session.commit()
    before = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)).scalar() or 0

    act()

    db.session.expire_all()
    new = db.session.execute(select(AuditEvent).where(AuditEvent.id > before)).scalars().all()
    assert [e.action for e in new] == [expected["action"]], name
    event = new[0]
    for field, value in expected.items():
        actual = getattr(event, field)
        if field == "details":
            actual = json.loads(actual) if actual else None
            if isinstance(value, dict) and actual is not None:
                actual = {k: actual[k] for k in value} if set(value) <= set(actual) else actual
        assert actual == value, f"{name}: {field}"
    assert event.at is not None and event.hash
    assert audit.verify().ok
