"""The processing register — the "approved list of personal data" an inspector asks for (Law 94-V art. 7(4)–(5),
12(1), 25(3); policy 3.1–3.2, 4).

Generated, not typed: each category names the model columns that hold it (a test checks that every personal-data
column of the models belongs to a category and that every named column exists), the systems holding it and their
country come from the data map (each system names the categories it holds; a system outside Kazakhstan is flagged,
art. 12), retention from the editable retention rules, recipients from the disclosure register, and the person
responsible from the settings. As a page, and as CSV and PDF in kk, ru and en (downloads audited).
"""
import csv
import io

from flask import render_template
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import distinct, select

from .. import labels
from ..extensions import db
from ..models import Booking, Client, ClientAccount, Communication, Consent, MarketingOptOut, PrivacyRequest
from ..models.base import utcnow
from ..models.disclosures import DisclosureGrant, DisclosureLog
from . import audit, compliance_settings, csvstream, datamap, documents, retention_runs
from .disclosures import RECIPIENT_CATEGORY_LABELS
from .retention import effective_rules
from .transaction import user_action

FORMATS = ("csv",) + documents.FORMATS  # the register as a spreadsheet too
PURPOSES = {"3.2.1": _l("Identification and service (3.2.1)"), "3.2.2": _l("Marketing, with consent (3.2.2)"),
            "3.2.3": _l("Statistics, depersonalised only (3.2.3)"), "4.1": _l("Transfer at the client's request (4.1)")}
BASES = {"consent": _l("Consent of the data subject (Law art. 7, 8)"),
         "contract": _l("Performance of the contract of carriage"),
         "law": _l("Obligation under the law (accounting; transport authorities)")}


def _cols(model, *names):
    return [(model, name) for name in names]


# category → (label, columns, purposes, legal bases, record types whose retention applies). The keys are the data
# map's categories (models.systems.PERSONAL_DATA_CATEGORIES): a test keeps the two the same.
CATEGORIES = (
    ("identity", _l("Identity: name, date of birth, IIN"),
     _cols(Client, "full_name", "name_key", "date_of_birth", "iin") + _cols(Booking, "passenger_name")
     + _cols(PrivacyRequest, "requester_name"),
     ("3.2.1",), ("consent", "contract"), ("client", "booking")),
    ("contact", _l("Contact: e-mail, phone"),
     _cols(Client, "email", "email_norm", "phone", "phone_e164") + _cols(ClientAccount, "login")
     + _cols(PrivacyRequest, "requester_email", "requester_phone") + _cols(MarketingOptOut, "email", "phone"),
     ("3.2.1", "3.2.2"), ("consent", "contract"), ("client", "marketing_opt_out")),
    ("document", _l("Identity document number (last check only, no copies)"), _cols(Booking, "document_number"),
     ("3.2.1",), ("contract", "law"), ("booking",)),
    ("employment", _l("Employer agency and position (B2B)"), _cols(Client, "agency_id", "position"),
     ("3.2.1",), ("contract",), ("client",)),
    ("booking", _l("Bookings and tickets"),
     _cols(Booking, "pnr", "origin", "destination", "flight_date", "amount", "currency", "issued_at"),
     ("3.2.1", "3.2.3", "4.1"), ("contract", "law"), ("booking",)),
    ("account", _l("Site account"), _cols(ClientAccount, "registered_at", "last_login_at", "state"),
     ("3.2.1",), ("contract",), ("client_account",)),
    ("communications", _l("Support messages"), _cols(Communication, "subject", "body", "sent_at"),
     ("3.2.1",), ("contract",), ("communication",)),
    ("consents", _l("Consents and their history"), _cols(Consent, "purpose", "given_at", "withdrawn_at"),
     ("3.2.1", "3.2.2", "3.2.3", "4.1"), ("law",), ("consent",)),
    ("requests", _l("Privacy requests and what the requester wrote"),
     _cols(PrivacyRequest, "description", "payload"), ("3.2.1",), ("law",), ("privacy_request",)),
)


def _retention_text(record_types, rules, limits):
    parts = []
    for record_type in record_types:
        rule = rules.get(record_type)
        limit = limits.get(record_type)
        if limit is not None:
            parts.append(_("%(type)s: %(years)s years, then %(action)s (%(ref)s)",
                           type=labels.label(record_type, "record_type"),
                           years=limit[0], action=labels.label(limit[1], "retention_action"),
                           ref=labels.legal_reference(limit[2])))
        elif rule is not None:
            parts.append(_("%(type)s: until erasure (%(ref)s)", type=labels.label(record_type, "record_type"),
                           ref=labels.legal_reference(rule.legal_reference)))
    return "; ".join(parts)


def _recipients():
    used = set(db.session.execute(select(distinct(DisclosureGrant.recipient_category))).scalars())
    used |= set(db.session.execute(select(distinct(DisclosureLog.recipient_category))).scalars())
    return [str(RECIPIENT_CATEGORY_LABELS[c]) for c in RECIPIENT_CATEGORY_LABELS if c in used]


def country_name(code):
    """The country's name in the current locale (Babel's territory names), else the code."""
    locale = get_locale()
    code = (code or "").upper()
    return (locale.territories.get(code) if locale is not None else None) or code


def _system_entry(system):
    return {"id": system.id, "name": system.name, "owner": system.owner, "country": country_name(system.country),
            "outside": system.outside_home_country, "enabled": system.enabled,
            "categories": [str(labels.label(c, "data_category")) for c in system.held_categories or []]}


def _system_text(entry):
    if entry["outside"]:
        return _("%(system)s (%(country)s — outside Kazakhstan: cross-border transfer, art. 12)",
                 system=entry["name"], country=entry["country"])
    return f"{entry['name']} ({entry['country']})"


def systems():
    """Every system of the data map with its country, the art. 12 flag and the categories it holds."""
    return [_system_entry(system) for system in datamap.all_systems()]


def rows():
    """One row per category, in the current locale; its systems are the data map's systems holding it."""
    rules = effective_rules()
    limits = {record_type: (years, action, ref) for record_type, years, action, ref in retention_runs.limits()}
    recipients = ", ".join(_recipients()) or _("none recorded")
    data_map = [(system.held_categories or [], _system_entry(system)) for system in datamap.all_systems()]
    result = []
    for key, label, columns, purposes, bases, record_types in CATEGORIES:
        holders = [entry for held, entry in data_map if key in held]
        result.append({
            "key": key, "category": str(label),
            "items": ", ".join(f"{model.__tablename__}.{name}" for model, name in columns),
            "purposes": "; ".join(str(PURPOSES[p]) for p in purposes),
            "legal_basis": "; ".join(str(BASES[b]) for b in bases),
            "systems": "; ".join(_system_text(entry) for entry in holders) or _("none recorded"),
            "system_entries": holders,
            "recipients": recipients if "4.1" in purposes or "document" == key else _("none"),
            "retention": _retention_text(record_types, rules, limits),
        })
    return result


def responsible_person():
    return compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON)


HEADERS = (("category", _l("Category of personal data")), ("items", _l("Data items (table.column)")),
           ("purposes", _l("Purpose")), ("legal_basis", _l("Legal basis")), ("systems", _l("Systems (country)")),
           ("recipients", _l("Recipients")), ("retention", _l("Retention")))
SYSTEM_HEADERS = (_l("System"), _l("Owner"), _l("Country of storage"), _l("Categories of personal data held"))


def _system_cells(entry):
    country = entry["country"] + (" — " + _("outside Kazakhstan: cross-border transfer (art. 12)")
                                  if entry["outside"] else "")
    return [entry["name"], entry["owner"], country, ", ".join(entry["categories"]) or _("none recorded")]


def csv_text(language):
    """The register as CSV in kk, ru or en (UTF-8 with BOM for spreadsheets): the responsible person, one row per
    category, then the data map's systems."""
    with force_locale(language):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([_("Person responsible for organising processing (Law art. 25(3))"),
                         csvstream.cell(responsible_person() or _("not set"))])
        writer.writerow([str(label) for _key, label in HEADERS])
        for row in rows():
            writer.writerow([csvstream.cell(row[key]) for key, _label in HEADERS])
        writer.writerow([])
        writer.writerow([str(label) for label in SYSTEM_HEADERS])
        for entry in systems():
            writer.writerow([csvstream.cell(value) for value in _system_cells(entry)])
        return "\ufeff" + out.getvalue()


def render_html(language):
    """The register as a standalone printable HTML document in `language` (the PDF is made from it)."""
    with force_locale(language):
        return render_template("documents/processing_register.html", language=language, rows=rows(),
                               headers=HEADERS, systems=systems(), system_headers=SYSTEM_HEADERS,
                               responsible=responsible_person(),
                               generated=documents.document_time(utcnow(), language), css=documents.stylesheet())


@user_action
def export(language, fmt):
    """(bytes, mimetype) of the register in `fmt` (csv, pdf, html) and `language`; the download is audited."""
    if language not in documents.languages() or fmt not in FORMATS:
        raise documents.DocumentError("no such export")
    if fmt == "pdf":
        body, mimetype = documents.to_pdf(render_html(language)), "application/pdf"
    elif fmt == "html":
        body, mimetype = render_html(language).encode("utf-8"), "text/html; charset=utf-8"
    else:
        body, mimetype = csv_text(language).encode("utf-8"), "text/csv; charset=utf-8"
    audit.record("processing_register.export", object_type="processing_register",
                 details={"language": language, "format": fmt})
    return body, mimetype
