"""Printed documents: the erasure certificate and the access summary as PDF and HTML (policy 5.2–5.4)."""
import io
import re
import zipfile

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from flask_babel import force_locale

from backoffice import labels
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.jobs import ExportPackage
from backoffice.services import documents, erasure, export
from tests.jobfactories import approved_request, seeded_client

pytestmark = pytest.mark.usefixtures("needs_pdf")
KAZAKH_LETTERS = set("әғқңөұүһі")


def _text(pdf_bytes):
    assert pdf_bytes.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes)).pages)


def _flat(text):
    return " ".join(text.split())


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def certificate_request(app, manager):
    client, strings = seeded_client("doc", 3, unflown=True)
    request = approved_request(client, "erasure", by=manager)
    erasure.erase_client(request.id, job_id="job-doc-1")
    return request.id, strings


def _last_event():
    return db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()


@pytest.mark.parametrize("lang,title", [("kk", "жою актісі"), ("ru", "Акт об уничтожении"),
                                         ("en", "Erasure certificate")])
def test_certificate_pdf_in_the_chosen_language(client, login_as, certificate_request, lang, title):
    request_id, strings = certificate_request
    user = login_as("supervisor")
    response = client.get(f"/admin/certificates/{request_id}/download?format=pdf&lang={lang}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"erasure-certificate-{request_id}-{lang}.pdf" in response.headers["Content-Disposition"]
    text = _text(response.data)
    assert title in text and f"#{request_id}" in text and "job-doc-1" in text
    if lang == "kk":
        assert KAZAKH_LETTERS & set(text), "Kazakh letters must survive into the PDF text"
    certificate = db.session.get(documents.PrivacyRequest, request_id).certificate
    with force_locale(lang):
        reference = labels.legal_reference(certificate["rules_applied"][0]["legal_reference"])
    assert reference[:25] in " ".join(text.split()), "the legal reference, in the chosen language"
    sha = documents.certificate_sha256(db.session.get(documents.PrivacyRequest, request_id).certificate)
    assert sha in text.replace("\n", "")
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", text), "no microseconds"
    assert not any(value in text for value in strings), "a certificate holds no personal data"
    event = _last_event()
    assert (event.action, event.object_id, event.actor_id) == ("certificate.download", str(request_id), user.id)
    assert f'"language":"{lang}"' in event.details and '"format":"pdf"' in event.details


def test_certificate_html_is_standalone_and_printable(client, login_as, certificate_request):
    request_id, _ = certificate_request
    login_as("manager")
    html = client.get(f"/admin/certificates/{request_id}/download?format=html&lang=ru").get_data(as_text=True)
    assert '<html lang="ru">' in html and "Акт об уничтожении" in html and 'id="verification"' in html
    page = client.get(f"/admin/certificates/{request_id}/").get_data(as_text=True)
    assert 'class="no-print' in page and "@media print" in open(documents.PROJECT_ROOT / "static" / "backoffice.css").read()


def test_hostile_language_and_format_fall_back(client, login_as, certificate_request):
    request_id, _ = certificate_request
    login_as("manager")
    response = client.get(f"/admin/certificates/{request_id}/download?format=exe&lang=../../etc")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert client.get("/admin/certificates/999999/download?format=pdf").status_code == 404


@pytest.mark.parametrize("role,status", [("manager", 200), ("supervisor", 200), ("support", 403), ("admin", 403)])
def test_certificate_pdf_and_verify_by_role(client, login_as, certificate_request, role, status):
    request_id, _ = certificate_request
    login_as(role)
    assert client.get(f"/admin/certificates/{request_id}/download?format=pdf").status_code == status
    assert client.get(f"/admin/certificates/verify?request_id={request_id}&sha256=00").status_code == status


def test_verify_page_and_cli(app, client, login_as, certificate_request):
    request_id, _ = certificate_request
    sha = documents.certificate_sha256(db.session.get(documents.PrivacyRequest, request_id).certificate)
    login_as("supervisor")
    ok = client.get(f"/admin/certificates/verify?request_id={request_id}&sha256={sha.upper()}").get_data(as_text=True)
    assert "Valid" in ok
    bad = client.get(f"/admin/certificates/verify?request_id={request_id}&sha256={'0' * 64}").get_data(as_text=True)
    assert "Does not match" in bad
    assert _last_event().action == "certificate.verify" and _last_event().outcome == "failure"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["certificate-verify", str(request_id), sha]).exit_code == 0
    assert runner.invoke(args=["certificate-verify", str(request_id), "f" * 64]).exit_code == 1


def test_access_summary_pdf_in_the_package_and_downloadable(app, client, login_as, manager):
    person, strings = seeded_client("sum", 4)
    person.preferred_language = "kk"
    db.session.commit()
    request = approved_request(person, "access", by=manager)
    package = db.session.get(ExportPackage, export.build_export(request.id, job_id="job-sum-1")["package_id"])
    with zipfile.ZipFile(package.path) as archive:
        assert {"summary.html", "summary.pdf"} <= set(archive.namelist())
        html = archive.read("summary.html").decode()
    assert '<html lang="kk">' in html and "job-sum-1" in html and "(UTC)" not in html
    user = login_as("support")
    response = client.get(f"/admin/exports/{package.id}/summary?format=pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _text(response.data)
    assert KAZAKH_LETTERS & set(text) and f"{request.id}" in text and "job-sum-1" in text
    event = _last_event()
    assert (event.action, event.object_id, event.actor_id) == ("summary.download", str(package.id), user.id)


@pytest.mark.parametrize("role,status", [("support", 200), ("manager", 200), ("supervisor", 403), ("admin", 403)])
def test_access_summary_download_by_role(client, login_as, manager, role, status):
    person, _ = seeded_client("sumrole", 5)
    request = approved_request(person, "access", by=manager)
    package_id = export.build_export(request.id)["package_id"]
    login_as(role)
    assert client.get(f"/admin/exports/{package_id}/summary?format=pdf").status_code == status
    assert client.get(f"/admin/exports/{package_id}/summary?format=html").status_code == status
