"""The processing register — the "approved list of personal data" an inspector asks for (Law 94-V art. 7(4)–(5),
12(1), 25(3); policy 3.1–3.2, 4).

Generated, not typed: each category names the model columns that hold it (a test checks that every personal-data
column of the models belongs to a category and that every named column exists), retention comes from the editable
retention rules, recipients from the disclosure register, and the person responsible from the settings.
"""
import csv
import io

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import distinct, select

from .. import labels
from ..extensions import db
from ..models import Booking, Client, ClientAccount, Communication, Consent, MarketingOptOut, PrivacyRequest
from ..models.disclosures import DisclosureGrant, DisclosureLog
from . import audit, compliance_settings, csvstream, retention_runs
from .transaction import user_action
from .disclosures import RECIPIENT_CATEGORY_LABELS
from .retention import effective_rules

# Where the data lives (Law art. 12: databases of Kazakhstan citizens' data are kept in Kazakhstan).
SYSTEMS = {"backoffice": (_l("Privacy back-office"), _l("Kazakhstan")),
           "booking_site": (_l("B2B booking site"), _l("Kazakhstan"))}
PURPOSES = {"3.2.1": _l("Identification and service (3.2.1)"), "3.2.2": _l("Marketing, with consent (3.2.2)"),
            "3.2.3": _l("Statistics, depersonalised only (3.2.3)"), "4.1": _l("Transfer at the client's request (4.1)")}
BASES = {"consent": _l("Consent of the data subject (Law art. 7, 8)"),
         "contract": _l("Performance of the contract of carriage"),
         "law": _l("Obligation under the law (accounting; transport authorities)")}


def _cols(model, *names):
    return [(model, name) for name in names]


# category → (label, columns, purposes, legal bases, systems, record types whose retention applies)
CATEGORIES = (
    ("identity", _l("Identity: name, date of birth, IIN"),
     _cols(Client, "full_name", "name_key", "date_of_birth", "iin") + _cols(Booking, "passenger_name")
     + _cols(PrivacyRequest, "requester_name"),
     ("3.2.1",), ("consent", "contract"), ("backoffice", "booking_site"), ("client", "booking")),
    ("contact", _l("Contact: e-mail, phone"),
     _cols(Client, "email", "email_norm", "phone", "phone_e164") + _cols(ClientAccount, "login")
     + _cols(PrivacyRequest, "requester_email", "requester_phone") + _cols(MarketingOptOut, "email", "phone"),
     ("3.2.1", "3.2.2"), ("consent", "contract"), ("backoffice", "booking_site"), ("client", "marketing_opt_out")),
    ("document", _l("Identity document number (last check only, no copies)"), _cols(Booking, "document_number"),
     ("3.2.1",), ("contract", "law"), ("backoffice", "booking_site"), ("booking",)),
    ("employment", _l("Employer agency and position (B2B)"), _cols(Client, "agency_id", "position"),
     ("3.2.1",), ("contract",), ("backoffice", "booking_site"), ("client",)),
    ("booking", _l("Bookings and tickets"),
     _cols(Booking, "pnr", "origin", "destination", "flight_date", "amount", "currency", "issued_at"),
     ("3.2.1", "3.2.3", "4.1"), ("contract", "law"), ("backoffice", "booking_site"), ("booking",)),
    ("account", _l("Site account"), _cols(ClientAccount, "registered_at", "last_login_at", "state"),
     ("3.2.1",), ("contract",), ("booking_site",), ("client_account",)),
    ("communications", _l("Support messages"), _cols(Communication, "subject", "body", "sent_at"),
     ("3.2.1",), ("contract",), ("backoffice",), ("communication",)),
    ("consents", _l("Consents and their history"), _cols(Consent, "purpose", "given_at", "withdrawn_at"),
     ("3.2.1", "3.2.2", "3.2.3", "4.1"), ("law",), ("backoffice",), ("consent",)),
    ("requests", _l("Privacy requests and what the requester wrote"),
     _cols(PrivacyRequest, "description", "payload"), ("3.2.1",), ("law",), ("backoffice",), ("privacy_request",)),
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


def rows():
    """One row per category, in the current locale."""
    rules = effective_rules()
    limits = {record_type: (years, action, ref) for record_type, years, action, ref in retention_runs.limits()}
    recipients = ", ".join(_recipients()) or _("none recorded")
    result = []
    for key, label, columns, purposes, bases, systems, record_types in CATEGORIES:
        result.append({
            "key": key, "category": str(label),
            "items": ", ".join(f"{model.__tablename__}.{name}" for model, name in columns),
            "purposes": "; ".join(str(PURPOSES[p]) for p in purposes),
            "legal_basis": "; ".join(str(BASES[b]) for b in bases),
            "systems": "; ".join(f"{SYSTEMS[s][0]} ({SYSTEMS[s][1]})" for s in systems),
            "recipients": recipients if "4.1" in purposes or "document" == key else _("none"),
            "retention": _retention_text(record_types, rules, limits),
        })
    return result


def responsible_person():
    return compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON)


HEADERS = (("category", _l("Category of personal data")), ("items", _l("Data items (table.column)")),
           ("purposes", _l("Purpose")), ("legal_basis", _l("Legal basis")), ("systems", _l("Systems (country)")),
           ("recipients", _l("Recipients")), ("retention", _l("Retention")))


def csv_text(language):
    """The register as CSV in kk, ru or en (UTF-8 with BOM for spreadsheets)."""
    with force_locale(language):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([_("Person responsible for organising processing (Law art. 25(3))"),
                         csvstream.cell(responsible_person() or _("not set"))])
        writer.writerow([str(label) for _key, label in HEADERS])
        for row in rows():
            writer.writerow([csvstream.cell(row[key]) for key, _label in HEADERS])
        return "\ufeff" + out.getvalue()


@user_action
def export_csv(language):
    """The CSV an inspector takes away; the download is audited."""
    audit.record("processing_register.export", object_type="processing_register", details={"language": language})
    return csv_text(language)
