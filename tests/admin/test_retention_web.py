"""Retention pages and dormant accounts (issue 15)."""
import datetime as dt

from backoffice.extensions import db
from backoffice.models import AuditEvent, Booking, Client, PrivacyRequest, RetentionRule, RetentionRun
from backoffice.services import compliance_settings, dormant
from tests.factories import make_client


def _old_client(**fields):
    client = make_client(bookings=1, flight_date=dt.date(2019, 5, 1), **fields)
    client.created_at = dt.datetime(2019, 1, 1)
    for booking in client.bookings:
        booking.issued_at = dt.datetime(2019, 4, 1)
    for account in client.accounts:
        account.registered_at = dt.datetime(2019, 1, 1)
        account.last_login_at = dt.datetime(2020, 1, 1)
    db.session.commit()
    return client


def test_admin_edits_a_rule_with_its_legal_reference(client, login_as):
    login_as("admin")
    assert client.get("/admin/retention/").status_code == 200
    rule = RetentionRule.query.filter_by(record_type="communication").one()
    response = client.post(f"/admin/retention/edit/?id={rule.id}", data={
        "period_years": "0", "action": "delete", "keep_years": "2", "after_period": "delete",
        "legal_reference": "Policy 3.1: support messages kept 2 years"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(RetentionRule, rule.id).keep_years == 2
    assert AuditEvent.query.filter_by(action="retention_rule.update").count() == 1


def test_manager_sees_runs_and_starts_a_dry_run(client, login_as):
    _old_client()
    login_as("manager")
    before = Booking.query.count()
    response = client.post("/admin/retention_runs/dry-run/")
    assert response.status_code == 302
    run = RetentionRun.query.one()
    assert run.dry_run and run.total_rows >= 1 and Booking.query.count() == before
    page = client.get(f"/admin/retention_runs/{run.id}/").get_data(as_text=True)
    assert "Bookings" in page
    assert client.get("/admin/retention_runs/").status_code == 200


def test_supervisor_reads_runs_but_cannot_start_one(client, login_as):
    login_as("supervisor")
    assert client.get("/admin/retention_runs/").status_code == 200
    assert client.post("/admin/retention_runs/dry-run/").status_code == 403


def test_dormant_accounts_listed_and_erased_through_requests_only_when_enabled(app, client, login_as, make_staff):
    old = _old_client()
    recent = make_client()
    login_as("manager")
    page = client.get("/admin/dormant/").get_data(as_text=True)
    assert f"#{old.id}<" in page and f"#{recent.id}<" not in page
    client.post("/admin/dormant/erase/", data={"client_id": [str(old.id)]})
    assert PrivacyRequest.query.count() == 0
    compliance_settings.save({compliance_settings.DORMANT_ERASURE: "1"}, make_staff("admin"))
    client.post("/admin/dormant/erase/", data={"client_id": [str(old.id), str(recent.id)]})
    requests = PrivacyRequest.query.all()
    assert [(r.type, r.client_id, r.status) for r in requests] == [("erasure", old.id, "received")]
    assert dormant.dormant_ids() == []  # an open erasure request takes it off the list
    assert db.session.get(Client, old.id).status == "active"
