"""The data map (policy 5.2-5.4; Law No. 94-V art. 12): which systems hold client data and how requests reach them.

System #1 is the back-office database, always present (the migration inserts it; `ensure_backoffice_system`
covers a database built without migrations). Admins manage the others; `check` connects to each SQL and webhook
system and reports what would stop an erasure, changing nothing.
"""
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, true

from ..extensions import db
from ..models.clients import Client, ClientAccount
from ..models.consent import Consent
from ..models.records import Booking, Communication
from ..models.requests import ACCESS, BLOCKING, CONSENT_WITHDRAWAL, ERASURE, RECTIFICATION, PrivacyRequest
from ..models.systems import (BACKOFFICE, HOME_COUNTRY, KINDS, MANUAL, PERSONAL_DATA_CATEGORIES, SQL,
                              TAKES_PART_AS, WEBHOOK, DataSystem)
from . import audit, datasets, sql_connector, webhook
from .transaction import user_action

SYSTEM_REQUEST_TYPES = (ERASURE, CONSENT_WITHDRAWAL, ACCESS, RECTIFICATION, BLOCKING)
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,79}$")
BACKOFFICE_SYSTEM = {
    "name": "Back-office database", "owner": "Privacy team", "kind": BACKOFFICE,
    "request_types": list(SYSTEM_REQUEST_TYPES),
    "data_categories": "identity, contact details, bookings, communications, consents, requests, disclosures",
    "held_categories": list(PERSONAL_DATA_CATEGORIES),
    "country": "KZ", "retention_reference": "Retention rules (services.retention)",
}


class SystemInvalid(ValueError):
    """A system's settings are not usable; `field_errors` maps field names to translated messages."""

    def __init__(self, field_errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in field_errors.items()))
        self.field_errors = field_errors


def backoffice_system():
    return db.session.execute(select(DataSystem).where(DataSystem.kind == BACKOFFICE)
                              .order_by(DataSystem.id).limit(1)).scalar_one_or_none()


def ensure_backoffice_system():
    """System #1 exists (demo, tests and databases built with create_all); returns it."""
    system = backoffice_system()
    if system is None:
        system = DataSystem(**BACKOFFICE_SYSTEM)
        db.session.add(system)
        db.session.flush()
    return system


@user_action
def current_map():
    """Every system of the data map, System #1 made first if it is missing (committed here)."""
    ensure_backoffice_system()
    return all_systems()


def all_systems():
    return db.session.execute(select(DataSystem).order_by(DataSystem.id)).scalars().all()


def systems_for(request_type):
    """Enabled systems taking part in this request type, back-office first (unblocking: those that block)."""
    request_type = TAKES_PART_AS.get(request_type, request_type)
    return [system for system in all_systems()
            if system.enabled and request_type in (system.request_types or [])]


def validate(system):
    """Field errors for a system about to be saved (admin view, demo); raises SystemInvalid."""
    errors = {}
    system.country = (system.country or HOME_COUNTRY).strip()
    system.request_types = list(system.request_types or [])
    if system.enabled is None:
        system.enabled = True
    if system.kind not in KINDS:
        errors["kind"] = _l("Choose sql, webhook or manual.")
    if system.kind == BACKOFFICE:
        # This database holds every category: the register's categories are its own models' columns.
        system.held_categories = list(PERSONAL_DATA_CATEGORIES)
    held = [c for c in (system.held_categories or []) if c]
    if any(c not in PERSONAL_DATA_CATEGORIES for c in held):
        errors["held_categories"] = _l("Choose the categories from the list.")
    system.held_categories = [c for c in PERSONAL_DATA_CATEGORIES if c in held]
    unknown = set(system.request_types or []) - set(SYSTEM_REQUEST_TYPES)
    if unknown:
        errors["request_types"] = _l("Unknown request type(s): %(types)s.", types=", ".join(sorted(unknown)))
    if not re.fullmatch(r"[A-Za-z]{2}", system.country or ""):
        errors["country"] = _l("Use the two-letter country code (KZ, DE, ...).")
    if system.kind == SQL and not ENV_NAME.match(system.connection_env or ""):
        errors["connection_env"] = _l("Name the environment variable holding the connection URL "
                                      "(capital letters, digits, _).")
    if system.kind == WEBHOOK:
        if not ENV_NAME.match(system.secret_env or ""):
            errors["secret_env"] = _l("Name the environment variable holding the webhook secret "
                                      "(capital letters, digits, _).")
        if not webhook.url_allowed(system.webhook_url):
            errors["webhook_url"] = _l("Use an https:// URL (http:// only to this machine).")
    if system.kind in (SQL, WEBHOOK) or system.dataset:
        try:
            parsed = datasets.parse(system.dataset or {})
            if system.kind == SQL and not parsed.tables:
                errors["dataset"] = _l("An SQL system needs at least one table in its dataset.")
            elif missing := _missing_for(system, parsed):
                errors["dataset"] = missing
        except datasets.DatasetError as exc:
            errors["dataset"] = str(exc)
    if errors:
        raise SystemInvalid(errors)
    system.country = system.country.upper()
    return system


def _missing_for(system, dataset):
    """What the dataset lacks for the request types the system takes part in (rectification, blocking)."""
    types = set(system.request_types or [])
    if RECTIFICATION in types and not dataset.fields:
        if system.kind == SQL:
            return _l("For rectification, map the back-office fields to columns (“fields” of a table).")
        return _l("For rectification, list the back-office fields this system holds (“fields”).")
    if BLOCKING in types and system.kind == SQL and not dataset.blocks:
        return _l("For blocking, name a table's yes/no block flag column (“block”).")
    return None


def lookup_identifiers(system):
    """The identities a system finds clients by (its dataset), or None when it declares none (manual systems)."""
    if not system.dataset:
        return None
    try:
        parsed = datasets.parse(system.dataset)
    except datasets.DatasetError:
        return None
    matched = {kind for spec in parsed.tables if spec.match for kind in spec.match}
    kinds = set(parsed.identifiers) & matched if parsed.tables else set(parsed.identifiers)
    return sorted(kinds)


def _has_booking():
    return Client.id.in_(select(Booking.client_id).where(Booking.client_id.is_not(None)))


# What the back-office's own records say a client has, per category a system holds. Identity and employment data
# belong to every client, so a system holding them may hold anyone.
_CATEGORY_EVIDENCE = {
    "contact": lambda: or_(Client.email_norm.is_not(None), Client.phone_e164.is_not(None)),
    "document": _has_booking,
    "booking": _has_booking,
    "account": lambda: Client.id.in_(select(ClientAccount.client_id)),
    "communications": lambda: Client.id.in_(select(Communication.client_id)),
    "consents": lambda: Client.id.in_(select(Consent.client_id)),
    "requests": lambda: Client.id.in_(select(PrivacyRequest.client_id).where(PrivacyRequest.client_id.is_not(None))),
}
_IDENTIFIER_EVIDENCE = {
    "email": lambda: Client.email_norm.is_not(None), "phone": lambda: Client.phone_e164.is_not(None),
    "iin": lambda: Client.iin.is_not(None),
    "pnr": _has_booking,
}


class NoHoldings(ValueError):
    """The system has no categories recorded in the data map: nobody can be said to be in it."""


def may_hold_condition(system):
    """A condition over Client: the clients this system may hold data of, by the data map (policy 4.3, 5.2–5.4).

    The back-office cannot look inside another system, so this is what the data map lets it say honestly: the
    back-office database holds every client; another system may hold a client when the back-office has data of a
    category the system holds for that client (identity and employment: everyone), and — when the system's
    dataset names the identities it finds clients by — the client has one of them. It errs on the side of
    including: for the exact list, the system's owner provides the ids.
    """
    if system.kind == BACKOFFICE:
        return true()
    held = [c for c in (system.held_categories or []) if c in PERSONAL_DATA_CATEGORIES]
    if not held:
        raise NoHoldings(system.id)
    evidence = [_CATEGORY_EVIDENCE[c]() for c in held if c in _CATEGORY_EVIDENCE]
    condition = true() if len(evidence) < len(held) else or_(*evidence)
    kinds = lookup_identifiers(system)
    if kinds is not None:
        condition = condition & or_(*[_IDENTIFIER_EVIDENCE[k]() for k in kinds]) if kinds else Client.id.is_(None)
    return condition


def check(system):
    """What would stop this system's part of a request (empty list: ready). Reads only."""
    if system.kind == SQL:
        return sql_connector.check(system)
    if system.kind == WEBHOOK:
        return webhook.ping(system)
    return []


def check_all():
    """[(system, problems)] for every enabled system; audited (ids only)."""
    results = [(system, check(system)) for system in all_systems() if system.enabled]
    audit.record("systems.check", object_type="data_system",
                 details={"checked": [s.id for s, _ in results], "failing": [s.id for s, p in results if p]})
    db.session.commit()
    return results


def identifiers_of(client):
    """The identities a system may look the client up by: {"email": [...], "phone": [...], "iin": [...], "pnr": [...]}.

    Taken from the live client row, which the back-office keeps until every other system is done.
    """
    pnrs = db.session.execute(select(Booking.pnr).where(Booking.client_id == client.id)
                              .order_by(Booking.pnr)).scalars().all()
    values = {"email": [client.email_norm or (client.email or "").strip().lower()], "phone": [client.phone_e164],
              "iin": [client.iin], "pnr": sorted(set(pnrs))}
    return {kind: [value for value in items if value] for kind, items in values.items()}


def describe(system):
    """One line per system for `systems list` (no secrets: only the names of the variables)."""
    flag = " [outside KZ: cross-border transfer, art. 12]" if system.outside_home_country else ""
    where = {SQL: f"url from ${system.connection_env}", WEBHOOK: f"{system.webhook_url} secret ${system.secret_env}",
             MANUAL: "manual confirmation", BACKOFFICE: "this database"}.get(system.kind, "")
    state = "" if system.enabled else " (disabled)"
    held = ", ".join(system.held_categories or []) or "none recorded"
    return (f"#{system.id} {system.name} [{system.kind}] owner: {system.owner}; country {system.country}{flag}; "
            f"holds: {held}; requests: {', '.join(system.request_types or [])}; {where}{state}")
