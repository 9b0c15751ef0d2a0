"""The data map (policy 5.2-5.4; Law No. 94-V art. 12): which systems hold client data and how requests reach them.

System #1 is the back-office database, always present (the migration inserts it; `ensure_backoffice_system`
covers a database built without migrations). Admins manage the others; `check` connects to each SQL and webhook
system and reports what would stop an erasure, changing nothing.
"""
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models.records import Booking
from ..models.requests import ACCESS, BLOCKING, CONSENT_WITHDRAWAL, ERASURE, RECTIFICATION
from ..models.systems import BACKOFFICE, HOME_COUNTRY, KINDS, MANUAL, SQL, TAKES_PART_AS, WEBHOOK, DataSystem
from . import audit, datasets, sql_connector, webhook
from .transaction import user_action

SYSTEM_REQUEST_TYPES = (ERASURE, CONSENT_WITHDRAWAL, ACCESS, RECTIFICATION, BLOCKING)
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,79}$")
BACKOFFICE_SYSTEM = {
    "name": "Back-office database", "owner": "Privacy team", "kind": BACKOFFICE,
    "request_types": list(SYSTEM_REQUEST_TYPES),
    "data_categories": "identity, contact details, bookings, communications, consents, requests, disclosures",
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
    return (f"#{system.id} {system.name} [{system.kind}] owner: {system.owner}; country {system.country}{flag}; "
            f"requests: {', '.join(system.request_types or [])}; {where}{state}")
