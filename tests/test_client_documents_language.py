"""The export summary and the erasure certificate read in one language: on kk and ru no Latin-script word is
left except proper names, codes the client needs and the names of files and formats (docs/glossary.md).

Rendered over demo data through the production paths: the access job's summary.html inside the ZIP, and the
certificate a manager downloads. Record types, export categories, request types, retention actions and legal
references are label data that `backoffice/labels.py` translates: `test_pending_labels_are_translated` fails if any
of their raw codes or English legal texts (PENDING_LABELS) reaches either document.
"""
import datetime as dt
import re
import zipfile
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.clients import Client
from backoffice.models.jobs import ExportPackage
from backoffice.models.requests import REQUEST_TYPES
from backoffice.models.staff import StaffUser
from backoffice.services import erasure, export, retention
from tests.jobfactories import approved_request
from tests.test_translations import _switch

LANGUAGES = ("kk", "ru")
# Proper names, codes the client needs (PNR, request no. are digits), names of files and formats.
ALLOWED = {"Bek", "Air", "PNR", "UTC", "data.json", "CSV", "SHA-256", "HTML", "ZIP", "HMAC"}
# Not glued to a digit or letter on the left, so ISO times (2026-12-01T09:00) and hashes do not count.
LATIN_WORD = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+)*")
# A Latin name in quotes is a literal the reader looks for: «consents» is the section of data.json.
QUOTED_LITERAL = re.compile(r"«[A-Za-z_.]+»|\"[A-Za-z_.]+\"")

EXPORT_CATEGORIES = ("identity", "site_account", "bookings", "communications", "consents", "privacy_requests",
                     "marketing_opt_outs")
RETENTION_ACTIONS = ("delete", "depersonalise")
# Raw label data that must never reach a client document (labels.py translates it). Read from the code, so keys
# renamed there are still recognised.
_LEGAL_TEXTS = {rule.legal_reference for rule in retention.DEFAULT_RULES} | {
    getattr(erasure, name) for name in ("ART_8_2", "ART_1_3") if hasattr(erasure, name)}
PENDING_LABELS = (
    sorted(_LEGAL_TEXTS, key=len, reverse=True)
    + sorted(set(retention.RECORD_TYPES) | set(EXPORT_CATEGORIES) | set(REQUEST_TYPES) | set(RETENTION_ACTIONS),
             key=len, reverse=True)
)


class _Text(HTMLParser):
    """The text a reader sees: no <style>, and no <code>, which holds identifiers (job id, hashes) by design."""

    def __init__(self):
        super().__init__()
        self.chunks, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("code", "style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("code", "style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


def visible_text(html):
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.chunks)


def _without_pending(text):
    found = []
    for raw in PENDING_LABELS:
        pattern = re.compile(r"(?<![\w])" + re.escape(raw) + r"(?![\w])")
        if pattern.search(text):
            found.append(raw)
            text = pattern.sub(" ", text)
    return text, found


def foreign_words(html, proper_names=()):
    """(Latin words that should not be there, pending label values found)."""
    text, pending = _without_pending(QUOTED_LITERAL.sub(" ", visible_text(html)))
    allowed = ALLOWED | {word for name in proper_names for word in LATIN_WORD.findall(name)}
    return sorted({w for w in LATIN_WORD.findall(text) if w not in allowed}), pending


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def _demo_client(unflown):
    """A demo client with flown bookings, messages and consents; with a flight still to come if `unflown`."""
    today = dt.date.today()
    for client in db.session.execute(select(Client).order_by(Client.id)).scalars():
        flights = [booking.flight_date for booking in client.bookings]
        if (any(day < today for day in flights) and any(day >= today for day in flights) == unflown
                and client.communications and client.consents):
            return client
    raise AssertionError("the demo data set has no such client")


def _summary(manager, lang):
    client = _demo_client(unflown=False)
    client.preferred_language = lang
    db.session.commit()
    result = export.build_export(approved_request(client, "access", by=manager).id, job_id="job-export")
    with zipfile.ZipFile(db.session.get(ExportPackage, result["package_id"]).path) as archive:
        return archive.read("summary.html").decode("utf-8")


def _certificate(manager, lang, http, auth):
    request_id = approved_request(_demo_client(unflown=True), "consent_withdrawal", by=manager).id
    assert erasure.erase_client(request_id, job_id="job-erase")["outcome"] == "partial"  # exceptions shown too
    auth.login(manager)
    _switch(http, lang, "/admin/")
    response = http.get(f"/admin/certificates/{request_id}/download")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def documents(seeded, client, auth, manager):
    def render(lang):
        staff = [str(user) for user in db.session.execute(select(StaffUser)).scalars()]
        return {"summary": _summary(manager, lang), "certificate": _certificate(manager, lang, client, auth)}, staff
    return render


@pytest.mark.parametrize("lang", LANGUAGES)
def test_documents_have_no_latin_words_but_names_and_codes(documents, lang):
    rendered, staff = documents(lang)
    for name, html in rendered.items():
        words, _pending = foreign_words(html, proper_names=staff)
        assert words == [], f"{lang} {name}: {words}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pending_labels_are_translated(documents, lang):
    rendered, _staff = documents(lang)
    pending = {name: foreign_words(html)[1] for name, html in rendered.items()}
    assert pending == {"summary": [], "certificate": []}


def test_the_scan_sees_english():
    """The detector itself: an English word and a raw key are caught, names, codes and times are not."""
    html = ("<style>td{border:1px}</style><p>Бұл «consents» data.json PNR Bek Air 2026-12-01T09:00 "
            "<code>job-1</code> Zhanar deleted</p>")
    assert foreign_words(html, proper_names=["Zhanar Testova"]) == (["deleted"], [])
    assert foreign_words("<td>client_account</td>") == ([], ["client_account"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_processing_register_reads_in_one_language(seeded, client, auth, make_staff, lang):
    """The register an inspector takes away (its HTML, from which the PDF is made): no Latin word but the names of
    the data map's systems and owners, the responsible person, and the model's column names (in <code>)."""
    from backoffice.models.systems import MANUAL, DataSystem
    from backoffice.services import compliance_settings, datamap

    admin = make_staff("admin")
    compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: "Aida Nurlanovna, dpo@bekair.kz"}, admin)
    retention.ensure_default_rules()
    datamap.ensure_backoffice_system()
    db.session.add(datamap.validate(DataSystem(name="Mailer", owner="Marketing", kind=MANUAL, request_types=[],
                                               held_categories=["contact"], country="DE")))
    db.session.commit()
    auth.login(admin)
    response = client.get(f"/admin/register/html/{lang}/")
    assert response.status_code == 200
    names = [part for system in datamap.all_systems() for part in (system.name, system.owner)]
    words, pending = foreign_words(response.get_data(as_text=True),
                                   proper_names=names + ["Aida Nurlanovna, dpo@bekair.kz"])
    assert (words, pending) == ([], [])
