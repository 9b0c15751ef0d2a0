"""Translated names for the client-facing export summary: categories, record types, default legal references.

The summary goes to the client in their language (policy 5.4), so no code or English text may show through.
A legal reference an operator typed into a retention rule is shown as typed (it cannot be translated); the
defaults shipped in services.retention are translated here.
"""
from flask_babel import lazy_gettext as _l

from .retention import DEFAULT_RULES

CATEGORIES = {
    "identity": _l("Your identity and contact details"),
    "site_account": _l("Your account on the booking site"),
    "bookings": _l("Bookings and tickets"),
    "communications": _l("Messages between you and us"),
    "consents": _l("Consents you gave or withdrew"),
    "privacy_requests": _l("Your requests about your personal data"),
    "disclosures": _l("Disclosures to third parties (who received your data)"),
    "marketing_opt_outs": _l("Refusals of advertising"),
}

RECORD_TYPES = {
    "booking": _l("Bookings and tickets"),
    "privacy_request": _l("Requests about personal data"),
    "client": _l("Client record"),
    "marketing_opt_out": _l("Refusal of advertising"),
    "client_account": _l("Booking-site account"),
    "communication": _l("Messages"),
    "consent": _l("Consents"),
    "export_package": _l("Data packages like this one"),
    "disclosure_grant": _l("Disclosure register entries"),
}

_DEFAULT_REFERENCES = {
    "booking": _l("Law of the Republic of Kazakhstan on accounting and financial reporting, art. 11 (tickets, "
                  "invoices, payments)"),
    "privacy_request": _l("Law No. 94-V art. 25(2): proof that the request was handled"),
    "client": _l("Policy 5.3; Law No. 94-V art. 24(1)(5): the record stays as a mark without personal data"),
    "marketing_opt_out": _l("Policy 3.2.2: the refusal is kept only as a one-way code"),
    "client_account": _l("Policy 5.3: the account is deleted"),
    "communication": _l("Policy 5.3: no duty to keep"),
    "consent": _l("Policy 5.3: no duty to keep"),
    "export_package": _l("Policy 5.4: data packages are deleted"),
}
_DEFAULT_TEXT = {rule.record_type: rule.legal_reference for rule in DEFAULT_RULES}


def category(name):
    if name.startswith("system:"):
        return _l("%(system)s (another system of the airline)", system=name.split(":", 1)[1])
    return CATEGORIES.get(name, name)


def record_type(name):
    return RECORD_TYPES.get(name, name)


def legal_reference(rule):
    """The translated default reference, or the operator's own text if they changed it."""
    if _DEFAULT_TEXT.get(rule.record_type) == rule.legal_reference and rule.record_type in _DEFAULT_REFERENCES:
        return _DEFAULT_REFERENCES[rule.record_type]
    return rule.legal_reference
