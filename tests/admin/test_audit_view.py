"""The supervisor's audit view: filters, details, streamed CSV export, the chain check (policy 4.3)."""
import csv
import io
import json

from sqlalchemy import select, text

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services import audit
from tests.services.test_audit import append_only_triggers_dropped


def _events(staff):
    audit.record("client.read_full_record", object_type="client", object_id=11, actor=staff,
                 details={"purpose": "view"})
    audit.record("request.approve", object_type="privacy_request", object_id=5, request_id=5, actor=staff)
    audit.record("client.read_full_record", object_type="client", object_id=12, actor=staff)
    audit.record("job.run", object_type="job", details={"name": "=cmd|' /C calc'!A0"})
    db.session.commit()


def _rows(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_supervisor_sees_the_log_without_edit_controls(client, login_as, make_staff):
    _events(make_staff("support"))
    login_as("supervisor")
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "request.approve" in page and "client.read_full_record" in page
    assert "events in the chain" in page and "Verify chain" in page and "Export CSV" in page
    for absent in ("/admin/audit/new/", "/admin/audit/edit/", "/admin/audit/delete/"):
        assert absent not in page
    assert 'name="search"' not in page


def _list_table(page):
    """The list table only (the filter's dropdown names every action)."""
    start = page.index('<table class="table table-striped')
    return page[start:page.index("</table>", start)]


def test_filters_narrow_the_list_by_action_object_and_request(client, login_as, make_staff):
    _events(make_staff("support"))
    login_as("supervisor")
    view = client.application.extensions["backoffice_admin"]._views
    audit_view = next(v for v in view if getattr(v, "endpoint", None) == "audit")
    index = {f"{flt.column.key}:{flt.operation()}": i for i, flt in enumerate(audit_view._filters)}

    page = _list_table(client.get(f"/admin/audit/?flt0_{index['action:equals']}=request.approve").get_data(as_text=True))
    assert "request.approve" in page and "client.read_full_record" not in page

    page = _list_table(client.get(f"/admin/audit/?flt0_{index['object_id:equals']}=12").get_data(as_text=True))
    assert "client.read_full_record" in page and "request.approve" not in page

    page = _list_table(client.get(f"/admin/audit/?flt0_{index['request_id:equals']}=5").get_data(as_text=True))
    assert "request.approve" in page and "client.read_full_record" not in page


def test_the_action_filter_is_a_dropdown_of_translated_actions(client, login_as):
    login_as("supervisor")
    client.post("/language/ru", data={})
    page = client.get("/admin/audit/").get_data(as_text=True)
    # Flask-Admin hands the filter's options (code, translated label) to its filter script as JSON.
    assert '"request.approve"' in page
    from backoffice.admin.audit import audit_action_options
    codes = [code for code, _label in audit_action_options()]
    assert "request.approve" in codes and "auth.login" in codes and len(codes) == len(set(codes))


def test_details_view_shows_the_details_json(client, login_as, make_staff):
    _events(make_staff("support"))
    login_as("supervisor")
    first = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().first()
    page = client.get(f"/admin/audit/details/?id={first.id}").get_data(as_text=True)
    assert "&#34;purpose&#34;: &#34;view&#34;" in page or "&quot;purpose&quot;: &quot;view&quot;" in page
    assert first.hash in page


def test_csv_export_streams_the_filtered_log_and_neutralises_formulas(client, login_as, make_staff):
    _events(make_staff("support"))
    login_as("supervisor")
    view = next(v for v in client.application.extensions["backoffice_admin"]._views
                if getattr(v, "endpoint", None) == "audit")
    action_eq = next(i for i, f in enumerate(view._filters) if f.column.key == "action" and f.operation() == "equals")

    response = client.get(f"/admin/audit/export.csv?flt0_{action_eq}=client.read_full_record")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    rows = _rows(response)
    assert [r["object_id"] for r in rows] == ["11", "12"]
    assert json.loads(rows[0]["details"]) == {"purpose": "view"}

    everything = _rows(client.get("/admin/audit/export.csv"))
    job = next(r for r in everything if r["action"] == "job.run")
    assert job["details"].startswith("{")  # JSON objects cannot start a formula
    assert all(not value.startswith(("=", "+", "-", "@")) for row in everything for value in row.values())

    exports = db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.export")
                                 .order_by(AuditEvent.id)).scalars().all()
    assert [json.loads(e.details)["filters"] for e in exports] == [
        {f"flt0_{action_eq}": "client.read_full_record"}, {}]


def test_date_range_filter(client, login_as, make_staff):
    _events(make_staff("support"))
    login_as("supervisor")
    view = next(v for v in client.application.extensions["backoffice_admin"]._views
                if getattr(v, "endpoint", None) == "audit")
    older = next(i for i, f in enumerate(view._filters) if f.column.key == "at" and f.operation() == "smaller than")
    response = client.get(f"/admin/audit/export.csv?flt0_{older}=2000-01-01 00:00:00")
    assert _rows(response) == []


def test_chain_check_button_reports_intact_and_broken_chains(client, login_as, make_staff):
    _events(make_staff("support"))
    login_as("supervisor")
    page = client.post("/admin/audit/verify/", follow_redirects=True).get_data(as_text=True)
    assert "Audit chain intact" in page

    second = db.session.execute(select(AuditEvent).order_by(AuditEvent.id).offset(1).limit(1)).scalar_one()
    with append_only_triggers_dropped():
        db.session.execute(text("UPDATE audit_event SET object_id = '999' WHERE id = :id"), {"id": second.id})
        db.session.commit()
    page = client.post("/admin/audit/verify/", follow_redirects=True).get_data(as_text=True)
    assert f"broken at position 2 (event ID {second.id})" in page

    checks = db.session.execute(select(AuditEvent.outcome).where(AuditEvent.action == "audit.verify")
                                .order_by(AuditEvent.id)).scalars().all()
    assert checks == ["success", "failure"]


def test_chain_check_needs_post_with_csrf(app_config, make_staff):
    from backoffice import create_app
    from tests.conftest import TEST_PASSWORD

    app_config["WTF_CSRF_ENABLED"] = True
    app = create_app(app_config)
    with app.app_context():
        supervisor = make_staff("supervisor")
        browser = app.test_client()
        login_page = browser.get("/login").get_data(as_text=True)
        token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        browser.post("/login", data={"email": supervisor.email, "password": TEST_PASSWORD, "csrf_token": token})
        assert browser.get("/admin/audit/verify/").status_code == 405
        assert browser.post("/admin/audit/verify/").status_code == 400
        assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.verify")).first() is None
