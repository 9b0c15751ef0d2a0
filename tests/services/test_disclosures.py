"""The disclosure register (issue 15): revoke and expiry end grants, disclosures need an active grant or a law,
and the access export carries the history."""
import datetime as dt
import json
import zipfile

import pytest

from backoffice.extensions import db
from backoffice.models import AuditEvent, DisclosureGrant
from backoffice.models.jobs import ExportPackage
from backoffice.services import disclosures, export
from backoffice.services.erasure import local_today
from tests.factories import make_client
from tests.jobfactories import approved_request


def _grant(staff, client, **fields):
    values = dict(client_id=client.id, recipient="Almaty Travel LLP", recipient_category="agency",
                  legal_basis="client_request", data_categories=["booking", "contact"])
    values.update(fields)
    return disclosures.create_grant(staff, **values)


def test_revoked_and_expired_grants_stop_being_active(app, make_staff):
    manager = make_staff("manager")
    client = make_client()
    today = local_today()
    kept = _grant(manager, client)
    revoked = _grant(manager, client, recipient="B")
    expiring = _grant(manager, client, recipient="C", starts_on=today - dt.timedelta(days=10),
                      expires_on=today - dt.timedelta(days=1))
    later = _grant(manager, client, recipient="D", starts_on=today + dt.timedelta(days=3))
    disclosures.revoke(revoked.id, manager, "client_request", "Client called on 1 Dec")
    with pytest.raises(disclosures.DisclosureError):
        disclosures.revoke(revoked.id, manager, "staff", "again")
    with pytest.raises(disclosures.DisclosureError):
        disclosures.revoke(kept.id, manager, "staff", "  ")
    assert {g.id for g in disclosures.register(only_active=True)} == {kept.id, expiring.id} - {expiring.id}
    assert disclosures.expire_due(today) == {"expired": 1}
    assert disclosures.expire_due(today) == {"expired": 0}
    db.session.expire_all()
    assert db.session.get(DisclosureGrant, expiring.id).end_kind == "expired"
    assert db.session.get(DisclosureGrant, revoked.id).end_kind == "client_request"
    assert {g.id for g in disclosures.register(only_active=True)} == {kept.id}
    assert {g.id for g in disclosures.register()} == {kept.id, revoked.id, expiring.id, later.id}
    actions = [e.action for e in AuditEvent.query.order_by(AuditEvent.id)]
    assert actions.count("disclosure_grant.create") == 4 and "disclosure_grant.expire" in actions
    assert "Client called" not in " ".join(e.details or "" for e in AuditEvent.query.all())


def test_disclosures_need_an_active_grant_covering_the_data_or_a_law(app, make_staff):
    manager = make_staff("manager")
    client = make_client()
    grant = _grant(manager, client)
    now = dt.datetime(2026, 11, 30, 9, 0)
    entry = disclosures.log_disclosure(manager, client_id=client.id, grant_id=grant.id, data_categories=["booking"],
                                       disclosed_at=now)
    assert entry.recipient == grant.recipient and entry.legal_basis == "client_request"
    with pytest.raises(disclosures.DisclosureError):
        disclosures.log_disclosure(manager, client_id=client.id, grant_id=grant.id, data_categories=["document"],
                                   disclosed_at=now)
    with pytest.raises(disclosures.DisclosureError):
        disclosures.log_disclosure(manager, client_id=client.id, data_categories=["document"], disclosed_at=now,
                                   recipient="State transport system", recipient_category="state_body")
    law = disclosures.log_disclosure(manager, client_id=client.id, data_categories=["identity", "document"],
                                     disclosed_at=now, recipient="State transport system",
                                     recipient_category="state_body", law_reference="Order of 12 Aug 2025")
    assert law.legal_basis == "law" and law.grant_id is None
    disclosures.revoke(grant.id, manager, "staff", "Contract ended")
    with pytest.raises(disclosures.DisclosureError):
        disclosures.log_disclosure(manager, client_id=client.id, grant_id=grant.id, data_categories=["booking"],
                                   disclosed_at=now)


def test_access_export_shows_the_history(app, make_staff):
    manager = make_staff("manager")
    client = make_client()
    grant = _grant(manager, client)
    disclosures.log_disclosure(manager, client_id=client.id, grant_id=grant.id, data_categories=["booking"],
                               disclosed_at=dt.datetime(2026, 11, 30, 9, 0))
    disclosures.revoke(grant.id, manager, "client_request", "asked by phone")
    request = approved_request(client, "access", by=manager)
    result = export.build_export(request.id, job_id="job-d")
    package = db.session.get(ExportPackage, result["package_id"])
    with zipfile.ZipFile(package.path) as archive:
        data = json.loads(archive.read("data.json"))
        assert {"disclosure_grant.csv", "disclosure_log.csv"} <= set(archive.namelist())
    grants = data["categories"]["disclosure_grants"]
    assert [(g["recipient"], g["ended_how"]) for g in grants] == [("Almaty Travel LLP", "client_request")]
    assert data["categories"]["disclosures"][0]["grant_id"] == grant.id
