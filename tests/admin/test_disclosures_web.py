"""Disclosure register pages (issue 15)."""
from backoffice.extensions import db
from backoffice.models import DisclosureGrant, DisclosureLog
from tests.factories import make_client


def test_register_grant_revoke_and_log_through_the_pages(client, login_as):
    target = make_client()
    login_as("manager")
    response = client.post("/admin/disclosures/new/", data={
        "client_id": str(target.id), "recipient": "Partner Air", "recipient_category": "partner_airline",
        "legal_basis": "contract", "data_categories": ["booking"], "expires_on": "2030-01-01"})
    assert response.status_code == 302
    grant = DisclosureGrant.query.one()
    page = client.get("/admin/disclosures/").get_data(as_text=True)
    assert "Partner Air" in page and "Partner airline" in page
    client.post("/admin/disclosures/log/", data={"client_id": str(target.id), "grant_id": str(grant.id),
                                                 "data_categories": ["booking"], "disclosed_at": "2026-11-30T10:00"})
    assert DisclosureLog.query.count() == 1
    client.post(f"/admin/disclosures/{grant.id}/revoke/", data={"kind": "staff", "reason": "Contract ended"})
    db.session.expire_all()
    assert db.session.get(DisclosureGrant, grant.id).end_kind == "staff"
    assert "No grants to show." in client.get("/admin/disclosures/").get_data(as_text=True)
    assert "Partner Air" in client.get("/admin/disclosures/?show=all").get_data(as_text=True)
    assert "Contract ended" in client.get(f"/admin/disclosures/{grant.id}/").get_data(as_text=True)


def test_bad_grant_input_saves_nothing(client, login_as):
    login_as("support")
    response = client.post("/admin/disclosures/new/", data={"client_id": "x", "recipient": "", "data_categories": []})
    assert response.status_code == 200
    assert DisclosureGrant.query.count() == 0


def test_supervisor_reads_but_cannot_revoke(client, login_as):
    login_as("supervisor")
    assert client.get("/admin/disclosures/").status_code == 200
    assert client.post("/admin/disclosures/1/revoke/", data={"kind": "staff", "reason": "x"}).status_code == 403
