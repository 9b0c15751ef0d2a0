"""No internal code is ever shown to a user: every list and detail page, the request page, the erasure certificate
and the export summary, rendered in kk and ru over demo data, show only translated labels.

A code is any key of the label tables (backoffice/labels.py). Visible text is the page without tags, scripts,
styles and attribute values; e-mail addresses (personal data, and staff log-ins such as support@...) are removed
before looking for codes. Codes are matched case-sensitively as whole words, so "API" or "SMS" (their own
translations) and the language switcher's "KK" do not count.
"""
import html
import io
import re
import zipfile
from pathlib import Path

import pytest
from flask_babel import refresh
from sqlalchemy import select

from backoffice import labels
from backoffice.extensions import db
from backoffice.models.clients import Client
from backoffice.models.jobs import ExportPackage
from backoffice.models.requests import PrivacyRequest
from backoffice.models.staff import StaffUser
from backoffice.services import demo, erasure, export
from tests.jobfactories import approved_request, seeded_client

LANGUAGES = ("kk", "ru")
SIGN_OUT = {"kk": "Шығу", "ru": "Выйти"}
# Views whose index is no page of their own: system tasks are buttons on the request page (admin/systems.py).
NO_PAGE = {"systemtasks.index"}
# Scripts, styles, comments, Flask-Admin's hidden filter data (JSON of [code, label] pairs), and free text (staff
# comments, proposed field values; request outcomes, which the lifecycle still writes as English sentences: see
# docs/labels.md) and the audit event's details as recorded (ids and field names, in a <pre>).
_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1>|<!--.*?-->"
                        r"|<div id=\"(filter-groups-data|active-filters-data|actions-confirmation-data)\"[^>]*>.*?</div>"
                        r"|<(td|span) class=\"free-text\">.*?</\3>|<pre\b.*?</pre>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9_]|[A-Za-z]")
# English legal references that used to be stored and shown as such.
_ENGLISH_LAW = re.compile(r"\b(Law (No\. )?94-V|Law of the RK|Policy \d)")
CODES = {code for kind, table in labels.TABLES.items() for code in table} | set(labels.LEGAL_REFERENCES)


def visible_text(page):
    text = _TAG.sub(" ", _INVISIBLE.sub(" ", page))
    return _EMAIL.sub(" ", html.unescape(text))


def codes_in(page):
    text = visible_text(page)
    found = {word for word in _WORD.findall(text) if word in CODES}
    found |= {match.group(0) for match in _ENGLISH_LAW.finditer(text)}
    return found


def test_the_checker_sees_codes_and_ignores_attributes_and_addresses():
    page = ('<a href="/x?status=in_progress" title="client_account">Өңделуде</a> support@demo.local '
            "<script>var a = 'email';</script><td>full_name: x</td><td>Law 94-V art. 13</td>")
    assert codes_in(page) == {"full_name", "Law 94-V"}


@pytest.fixture
def walker(app, client, make_staff, auth):
    """Demo data (clients, requests in several states, a finished erasure and export), and a user with every role."""
    demo.ensure_demo_staff("demo-password-1")
    demo.seed_clients(count=15, seed=7)
    db.session.commit()
    demo.seed_requests()
    db.session.commit()
    manager = make_staff("manager", email="approver@test.local")
    erased, _ = seeded_client("walk", 3)
    erasure_request = approved_request(erased, "erasure", by=manager)
    erasure.erase_client(erasure_request.id, job_id="job-walk-1")
    exported, _ = seeded_client("exp", 4)
    access_request = approved_request(exported, "access", by=manager)
    package_id = export.build_export(access_request.id)["package_id"]
    db.session.commit()
    user = make_staff("support", "manager", "supervisor", "admin", email="walker@test.local")
    for number, staff in enumerate(db.session.execute(select(StaffUser)).scalars(), start=1):
        staff.full_name = f"Staff {number}"  # names are data; the factories' ones spell role codes
    db.session.commit()
    auth.login(user)
    return {"erasure": erasure_request.id, "export_client": exported.id, "package": package_id}


def _pages(app, walker):
    """(what, url) for every list page, a details and an edit page of every model view that has them, and the
    request page, the certificate and the home page."""
    urls = [("home", "/admin/")]
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and (
                rule.endpoint.endswith(".index_view") or rule.endpoint.endswith(".index")) and rule.endpoint not in NO_PAGE:
            urls.append((rule.endpoint, rule.rule))
    admin = app.extensions["backoffice_admin"]
    for view in admin._views:
        model = getattr(view, "model", None)
        if model is None:
            continue
        first = db.session.execute(select(model).order_by(model.id).limit(1)).scalar()
        if first is None:
            continue
        # The walker holds every role, so what the view allows at all is what it offers (admin/base.RoleModelView).
        for endpoint, offered in (("details_view", view.allow_details), ("edit_view", view.allow_edit)):
            if offered:
                urls.append((f"{view.endpoint}.{endpoint}", f"{view.url}/{endpoint.split('_')[0]}/?id={first.id}"))
    for req in db.session.execute(select(PrivacyRequest).order_by(PrivacyRequest.id)).scalars():
        urls.append(("request page", f"/admin/requests/details/?id={req.id}"))
    urls.append(("certificate", f"/admin/certificates/{walker['erasure']}/"))
    urls.append(("certificate document", f"/admin/certificates/{walker['erasure']}/download"))
    return urls


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_shows_labels_not_codes(app, client, walker, language):
    client.post(f"/language/{language}")
    refresh()  # the test's app context outlives requests: drop Flask-Babel's cached locale
    problems, rendered = [], 0
    for what, url in _pages(app, walker):
        response = client.get(url)
        assert response.status_code == 200, f"{url} → {response.status_code}"
        page = response.get_data(as_text=True)
        if "/download" not in url:
            # The back-office frame has a sign-out button; one's own account pages (auth) say their language.
            assert SIGN_OUT[language] in page or f'<html lang="{language}"' in page, f"{url} is not in {language}"
        rendered += 1
        found = codes_in(page)
        if found:
            problems.append(f"{what} {url}: {sorted(found)}")
    assert rendered >= 25, f"only {rendered} pages rendered"
    assert any("edit_view" in what for what, _url in _pages(app, walker)), "no edit page was walked"
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_export_summary_shows_labels_not_codes(app, walker, language):
    client = db.session.get(Client, walker["export_client"])
    client.preferred_language = language
    db.session.commit()
    package = db.session.get(ExportPackage, export.build_export(
        approved_request(client, "access").id)["package_id"])
    with zipfile.ZipFile(io.BytesIO(Path(package.path).read_bytes())) as archive:
        summary = archive.read("summary.html").decode()
    assert f'lang="{language}"' in summary
    assert codes_in(summary) == set()
