"""Breach register pages (issue 15): support reports, managers/supervisors run it, the home page shows the notice."""
from backoffice.extensions import db
from backoffice.models import AuditEvent, BreachIncident
from tests.factories import make_client

FORM = {"discovered_at": "2026-11-27T15:00", "discovered_by": "Night shift", "description": "Laptop lost",
        "data_categories": ["contact", "booking"], "systems": ["other"], "estimated_count": "12"}


def test_support_reports_and_cannot_open_the_register(client, login_as):
    login_as("support")
    response = client.post("/admin/breach_report/", data=FORM)
    assert response.status_code == 302
    incident = BreachIncident.query.one()
    assert incident.description == "Laptop lost" and incident.estimated_count == 12
    assert incident.discovered_at.hour == 10  # 15:00 Almaty
    assert client.get(f"/admin/breaches/{incident.id}/").status_code == 403
    assert client.get("/admin/breaches/").status_code == 403
    assert "breach-notices" not in client.get("/admin/").get_data(as_text=True)


def test_bad_report_shows_errors_and_saves_nothing(client, login_as):
    login_as("support")
    response = client.post("/admin/breach_report/", data={"discovered_at": "soon", "description": ""},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Enter when the breach was discovered." in response.get_data(as_text=True)
    assert BreachIncident.query.count() == 0


def test_manager_sees_it_first_on_home_until_the_notice_is_recorded(client, login_as):
    login_as("manager")
    client.post("/admin/breach_report/", data=FORM)
    incident = BreachIncident.query.one()
    home = client.get("/admin/").get_data(as_text=True)
    assert "breach-notices" in home and home.index("breach-notices") < home.index('id="counters"')
    page = client.get(f"/admin/breaches/{incident.id}/").get_data(as_text=True)
    assert "notice-due" in page
    target = make_client()
    response = client.post(f"/admin/breaches/{incident.id}/affected/",
                           data={"selection": "id_list", "ids_text": str(target.id), "version": incident.version})
    assert response.status_code == 302
    client.post(f"/admin/breaches/{incident.id}/step/", data={"text": "Locked accounts"})
    draft = client.get(f"/admin/breaches/{incident.id}/draft/ru/")
    assert draft.status_code == 200 and "text/plain" in draft.headers["Content-Type"]
    assert target.full_name not in draft.get_data(as_text=True)
    client.post(f"/admin/breaches/{incident.id}/notice/",
                data={"sent_on": "2026-11-28", "reference": "UO-1", "contact": "DPO +7 727 000"})
    db.session.expire_all()
    assert db.session.get(BreachIncident, incident.id).status == "notified"
    assert "breach-notices" not in client.get("/admin/").get_data(as_text=True)
    client.post(f"/admin/breaches/{incident.id}/notified/", data={"scope": "all", "channel": "letter"})
    assert "0 still to be told" in client.get(f"/admin/breaches/{incident.id}/").get_data(as_text=True)
    assert AuditEvent.query.filter_by(action="breach.read").count() >= 2


def test_supervisor_runs_the_register(client, login_as):
    login_as("supervisor")
    client.post("/admin/breach_report/", data=FORM)
    incident = BreachIncident.query.one()
    assert client.get("/admin/breaches/").status_code == 200
    assert client.get(f"/admin/breaches/{incident.id}/draft/kk/").status_code == 200
    assert client.get(f"/admin/breaches/{incident.id}/draft/xx/").status_code == 404


def test_manager_notifies_affected_clients_after_a_confirmation_page(client, login_as, auth, make_staff):
    from backoffice.models import Letter
    from backoffice.services import compliance_settings, letters

    compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: "DPO, dpo@bekair.kz"}, make_staff("admin"))
    manager = login_as("manager")
    client.post("/admin/breach_report/", data=FORM)
    incident = BreachIncident.query.one()
    targets = [make_client(preferred_language=lang) for lang in ("kk", "ru", "en")]
    client.post(f"/admin/breaches/{incident.id}/affected/",
                data={"selection": "id_list", "ids_text": " ".join(str(t.id) for t in targets)})
    page = client.get(f"/admin/breaches/{incident.id}/").get_data(as_text=True)
    assert "0 notified of 3" in page and "notify-clients" in page
    confirm = client.get(f"/admin/breaches/{incident.id}/notify/")
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "confirm-notify" in text and "DPO, dpo@bekair.kz" in text
    assert all(t.full_name not in text for t in targets)
    assert Letter.query.count() == 0  # the page alone queues nothing
    db.session.expire_all()
    version = db.session.get(BreachIncident, incident.id).version
    response = client.post(f"/admin/breaches/{incident.id}/notify/", data={"confirmed": "1", "version": version})
    assert response.status_code == 302
    assert sorted(letter.language for letter in Letter.query.all()) == ["en", "kk", "ru"]
    # The same click again (stale version, or nothing left) queues nothing more.
    client.post(f"/admin/breaches/{incident.id}/notify/", data={"confirmed": "1", "version": version})
    db.session.expire_all()
    current = db.session.get(BreachIncident, incident.id).version
    client.post(f"/admin/breaches/{incident.id}/notify/", data={"confirmed": "1", "version": current})
    assert Letter.query.count() == 3
    letters.send_due()
    page = client.get(f"/admin/breaches/{incident.id}/").get_data(as_text=True)
    assert "3 notified of 3" in page and "notify-clients" not in page
    # Supervisors run the register but do not write to clients; support cannot open it.
    for role in ("supervisor", "support"):
        auth.logout()
        login_as(role)
        assert client.get(f"/admin/breaches/{incident.id}/notify/").status_code == 403
        assert client.post(f"/admin/breaches/{incident.id}/notify/", data={"confirmed": "1"}).status_code == 403
    assert Letter.query.count() == 3


def test_by_system_offers_the_data_map(client, login_as):
    from backoffice.models import BreachAffectedClient
    from backoffice.models.systems import MANUAL, DataSystem
    from backoffice.services import datamap

    site = datamap.validate(DataSystem(name="Site accounts", owner="Web", kind=MANUAL, request_types=[],
                                       held_categories=["account"]))
    db.session.add(site)
    db.session.commit()
    login_as("manager")
    client.post("/admin/breach_report/", data=dict(FORM, systems=[str(site.id)]))
    incident = BreachIncident.query.one()
    assert incident.systems == [site.id]
    page = client.get(f"/admin/breaches/{incident.id}/").get_data(as_text=True)
    assert f'<option value="{site.id}">Site accounts</option>' in page
    holder = make_client()
    client.post(f"/admin/breaches/{incident.id}/affected/", data={"selection": "system", "system": str(site.id)})
    assert [r.client_id for r in BreachAffectedClient.query.all()] == [holder.id]
