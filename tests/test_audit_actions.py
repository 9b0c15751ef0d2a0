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
from backoffice.services import audit, intake
from backoffice.services.steps import take_step
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
            "role_list": ["support"]})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    # A role that reads client data waits for a second admin; the one event names the pending grant.
    return act, dict(action="staff.create", object_type="staff_user", actor_id=admin.id, actor_roles="admin",
                     outcome="success", ip=LOCAL_IP, details={"roles": [], "roles_requested": ["support"]})


def _staff_role_change(h):
    colleague = h.make_staff("support")
    admin = h.signed_in("admin")

    def act():
        response = h.client.post(f"/admin/staff/edit/?id={colleague.id}", data={
            "email": colleague.email, "full_name": colleague.full_name, "active": "y", "language": "",
            "role_list": ["support", "manager"]})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return act, dict(action="staff.update", object_type="staff_user", object_id=str(colleague.id),
                     actor_id=admin.id, actor_roles="admin", outcome="success", ip=LOCAL_IP,
                     details={"roles_before": ["support"], "roles_after": ["support"],
                              "roles_requested": ["manager", "support"]})


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


def _request_state_change(h):
    support = h.make_staff("support")
    client = make_client()
    req = intake.create_request(by=support, type="access", channel="email", client=client)

    def act():
        take_step(req, "verify_identity", support, method="registered_email")
    return act, dict(action="request.verify_identity", object_type="privacy_request", object_id=str(req.id),
                     request_id=req.id, actor_id=support.id, actor_roles="support", outcome="success",
                     details={"type": "access", "from": "received", "to": "identity_verified"})


def _rectification_changes_personal_data(h):
    support = h.make_staff("support")
    client = make_client()
    req = intake.create_request(by=support, type="rectification", channel="email", client=client,
                                payload={"changes": {"phone": "+7 702 123 45 67", "position": "director"}})
    take_step(req, "verify_identity", support, method="document_seen")
    take_step(req, "start", support)

    def act():
        take_step(req, "complete", support)
    return act, dict(action="request.complete", object_type="privacy_request", object_id=str(req.id),
                     request_id=req.id, actor_id=support.id, outcome="success",
                     details={"from": "in_progress", "to": "completed"})


def _opt_out_added_by_staff(h):
    from backoffice.services import optouts

    staff = h.make_staff("support")

    def act():
        optouts.add_opt_out(email="someone@mail.kz", channel="email", by=staff)
    return act, dict(action="optout.add", object_type="marketing_opt_out", actor_id=staff.id, outcome="success",
                     details={"channel": "email", "source": "staff_entry", "fields": ["email"]})


def _opt_out_removed(h):
    from backoffice.services import optouts

    staff = h.make_staff("manager")
    entry = optouts.add_opt_out(email="again@mail.kz", channel="sms", by=staff).entry
    db.session.commit()

    def act():
        optouts.remove_opt_out(entry.id, "asked to receive offers again", staff)
    return act, dict(action="optout.remove", object_type="marketing_opt_out", object_id=str(entry.id),
                     actor_id=staff.id, outcome="success")


def _opt_out_import_start(h):
    from backoffice.services import optout_import_runs
    from tests.services.test_scrub import Upload

    staff = h.make_staff("support")

    def act():
        optout_import_runs.start(Upload(b"email,channel\na1@mail.kz,email\na2@mail.kz,all\n"), staff)
    return act, dict(action="optout.import_start", object_type="optout_import", actor_id=staff.id,
                     outcome="success", details={"rows": 2})


def _opt_out_import(h):
    from backoffice.services import optout_import_runs
    from tests.services.test_scrub import Upload

    staff = h.make_staff("support")
    run = optout_import_runs.start(Upload(b"email,channel\na1@mail.kz,email\na2@mail.kz,all\n"), staff)

    def act():
        optout_import_runs.execute(run.id, job_id=run.job_id)  # the job's work (ends with one event)
    return act, dict(action="optout.import", object_type="optout_import", object_id=str(run.id), actor_id=staff.id,
                     outcome="success", details={"rows": 2, "created": 2, "merged": 0})


def _export_download(h):
    from backoffice.models.jobs import ExportPackage
    from backoffice.services import export
    from tests.jobfactories import approved_request, seeded_client

    manager = h.make_staff("manager")
    client, _ = seeded_client("audit", 5)
    request = approved_request(client, "access", by=manager)
    package = db.session.get(ExportPackage, export.build_export(request.id)["package_id"])
    reader = h.signed_in("support")

    def act():
        assert h.client.get(f"/admin/exports/{package.id}/download").status_code == 200
    return act, dict(action="export.download", object_type="export_package", object_id=str(package.id),
                     actor_id=reader.id, actor_roles="support", outcome="success", ip=LOCAL_IP)


def _own_password_change(h):
    user = h.signed_in("support")

    def act():
        response = h.client.post("/account/password", data={"current": TEST_PASSWORD, "new": "a long quiet meadow",
                                                             "confirm": "a long quiet meadow"})
        assert response.status_code == 302
    return act, dict(action="auth.password_change", object_type="staff_user", object_id=str(user.id),
                     actor_id=user.id, outcome="success", ip=LOCAL_IP)


def _admin_account_action(op, action):
    def setup(h):
        colleague = h.make_staff("support")
        admin = h.signed_in("admin")

        def act():
            response = h.client.post("/admin/staff/account-action/", data={"id": colleague.id, "op": op})
            assert response.status_code == 302
        return act, dict(action=action, object_type="staff_user", object_id=str(colleague.id), actor_id=admin.id,
                         actor_roles="admin", outcome="success", ip=LOCAL_IP)
    return setup


def _sign_in_with_second_factor(h):
    user = h.make_staff("manager")

    def act():
        h.auth.login(user)
    return act, dict(action="auth.login", object_type="staff_user", object_id=str(user.id), actor_id=user.id,
                     outcome="success", details={"second_factor": True})


CASES = [
    ("login", _login),
    ("login failed, known account", _login_failed_known_account),
    ("login failed, unknown account", _login_failed_unknown_account),
    ("logout", _logout),
    ("sign-in with a second factor", _sign_in_with_second_factor),
    ("own password change", _own_password_change),
    ("admin password reset", _admin_account_action("reset_password", "staff.password_reset")),
    ("admin signs a user out everywhere", _admin_account_action("sign_out_everywhere", "auth.sessions_ended")),
    ("admin unlocks sign-in", _admin_account_action("unlock", "auth.unlock")),
    ("admin resets the second factor", _admin_account_action("reset_second_factor", "auth.totp_reset")),
    ("staff create", _staff_create),
    ("staff role change", _staff_role_change),
    ("staff create from the CLI", _staff_create_by_cli),
    ("client full-record read", _client_full_record_read),
    ("audit log export", _audit_log_export),
    ("audit chain check", _audit_chain_check),
    ("request state change", _request_state_change),
    ("rectification changes personal data", _rectification_changes_personal_data),
    ("opt-out added by staff", _opt_out_added_by_staff),
    ("opt-out removed", _opt_out_removed),
    ("opt-out import start", _opt_out_import_start),
    ("opt-out import", _opt_out_import),
    ("export download", _export_download),
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


def test_an_erasure_job_run_is_audited_step_by_step(app, make_staff):
    """A job's run leaves its steps on the chain: start, the erasure itself, completion — ids and counts only."""
    from backoffice.services import erasure
    from tests.jobfactories import approved_request, seeded_client

    manager = make_staff("manager")
    client, strings = seeded_client("auditjob", 6)
    request = approved_request(client, "erasure", by=manager)
    before = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)).scalar() or 0
    erasure.erase_client(request.id, job_id="job-audit")
    new = db.session.execute(select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)).scalars().all()
    actions = [e.action for e in new]
    # The self-check after the commit is its own event (policy 5.3: the certificate's "verified" claim).
    assert actions == ["request.begin_execution", "client.erase", "request.complete", "erasure.verified"], actions
    erase = new[1]
    assert (erase.object_type, erase.object_id, erase.request_id) == ("client", str(client.id), request.id)
    assert json.loads(erase.details)["deleted"]["communication"] >= 1
    assert all(e.request_id == request.id for e in new if e.action.startswith("request."))
    assert not any(value in (e.details or "") for e in new for value in strings)
    assert audit.verify().ok
