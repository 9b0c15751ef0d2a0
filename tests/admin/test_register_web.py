"""Processing register page, CSV/PDF/HTML and settings (issue 15); its systems come from the data map."""
import csv
import io

import pytest
from pypdf import PdfReader

from backoffice.extensions import db
from backoffice.models import AuditEvent
from backoffice.services import compliance_settings, datamap


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


def _csv(client, lang="en"):
    text = client.get(f"/admin/register/csv/{lang}/").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[1]
    categories = {row[0]: dict(zip(header, row)) for row in rows[2:] if row and row[0] and len(row) == len(header)}
    return rows, categories


def test_a_system_added_in_the_systems_view_appears_in_the_register_flagged_outside_kazakhstan(client, login_as):
    datamap.ensure_backoffice_system()
    db.session.commit()
    login_as("admin")
    _rows, before = _csv(client)
    assert before["Contact: e-mail, phone"]["Systems (country)"] == "Back-office database (Kazakhstan)"
    assert "Mailer" not in client.get("/admin/register/").get_data(as_text=True)
    response = client.post("/admin/systems/new/", data={
        "name": "Mailer", "owner": "Marketing", "kind": "manual", "request_types": ["erasure"],
        "held_categories": ["contact", "consents"], "country": "de", "enabled": "y"})
    assert response.status_code == 302
    _rows, after = _csv(client)
    assert after["Contact: e-mail, phone"]["Systems (country)"] == (
        "Back-office database (Kazakhstan); Mailer (Germany — outside Kazakhstan: cross-border transfer, art. 12)")
    assert "Mailer" in after["Consents and their history"]["Systems (country)"]
    assert "Mailer" not in after["Bookings and tickets"]["Systems (country)"]  # it does not hold bookings
    page = client.get("/admin/register/").get_data(as_text=True)
    assert page.count("outside Kazakhstan: cross-border transfer (art. 12)") == 3  # two categories + systems table
    with_ru = client.get("/admin/register/csv/ru/").get_data(as_text=True)
    assert "Mailer (Германия — за пределами Казахстана: трансграничная передача, ст. 12)" in with_ru
    # A system whose categories are not recorded is listed among the systems with a warning, under no category.
    client.post("/admin/systems/new/", data={"name": "Old CRM", "owner": "Sales", "kind": "manual",
                                            "request_types": ["erasure"], "country": "KZ", "enabled": "y"})
    rows, categories = _csv(client)
    assert all("Old CRM" not in row["Systems (country)"] for row in categories.values())
    assert ["Old CRM", "Sales", "Kazakhstan", "none recorded"] in rows
    assert "none recorded: the processing register cannot list this system" in client.get(
        "/admin/register/").get_data(as_text=True)
    # A bad category is refused and saves nothing.
    client.post("/admin/systems/new/", data={"name": "Bad", "owner": "x", "kind": "manual", "country": "KZ",
                                            "held_categories": ["souls"]})
    assert "Bad" not in [s.name for s in datamap.all_systems()]


@pytest.mark.usefixtures("needs_pdf")
@pytest.mark.parametrize("lang,title,flag", [
    ("kk", "Өңдеу тізілімі", "Қазақстаннан тыс"), ("ru", "Реестр обработки", "за пределами Казахстана"),
    ("en", "Processing register", "outside Kazakhstan")])
def test_pdf_in_each_language_with_the_data_map_audited(client, login_as, lang, title, flag):
    from backoffice.models.systems import MANUAL, DataSystem

    datamap.ensure_backoffice_system()
    db.session.add(datamap.validate(DataSystem(name="Mailer", owner="Marketing", kind=MANUAL, request_types=[],
                                               held_categories=["contact"], country="DE")))
    db.session.commit()
    user = login_as("manager")
    response = client.get(f"/admin/register/pdf/{lang}/")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"processing-register-{lang}.pdf" in response.headers["Content-Disposition"]
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages).split())
    assert title in text and "Mailer" in text and flag in text and "Back-office database" in text
    if lang == "kk":
        assert set("әғқңөұүі") & set(text)
    event = AuditEvent.query.filter_by(action="processing_register.export").one()
    assert event.actor_id == user.id and f'"language":"{lang}"' in event.details and '"format":"pdf"' in event.details
    html = client.get(f"/admin/register/html/{lang}/")
    assert html.status_code == 200 and f'<html lang="{lang}">' in html.get_data(as_text=True)
