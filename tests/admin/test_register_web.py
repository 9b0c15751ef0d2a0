"""Processing register page, CSV and settings (issue 15)."""
from backoffice.models import AuditEvent
from backoffice.services import compliance_settings


def test_supervisor_reads_and_downloads_admin_sets_the_responsible_person(client, login_as, auth, make_staff):
    login_as("supervisor")
    page = client.get("/admin/register/")
    assert page.status_code == 200 and "table" in page.get_data(as_text=True)
    response = client.get("/admin/register/csv/ru/")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert client.get("/admin/register/csv/de/").status_code == 404
    assert client.post("/admin/register/settings/", data={"responsible_person": "X"}).status_code == 403
    auth.logout()
    login_as("admin")
    client.post("/admin/register/settings/", data={"responsible_person": "Aida N., +7 727 000", "dormant_years": "4"})
    assert compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON) == "Aida N., +7 727 000"
    assert compliance_settings.dormant_years() == 4
    assert "Aida N." in client.get("/admin/register/").get_data(as_text=True)
    client.post("/admin/register/settings/", data={"responsible_person": "Y", "dormant_years": "0"})
    assert compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON) == "Aida N., +7 727 000"
    assert AuditEvent.query.filter_by(action="compliance_setting.update").count() == 1
