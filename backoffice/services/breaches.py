"""The breach register (policy 4.3; Law 94-V as amended by Law 44-VIII, in force 1 July 2024).

An incident is reported (support may), edited and moved open → notified → closed by managers and supervisors.
The notice to the authorised body is due 1 working day after discovery on the Kazakhstan calendar, by the
editable `breach_notice` deadline rule. An incident names the data map's systems it touched. Affected clients are
stored as ids only, chosen set-based (INSERT ... SELECT) by booking route and date, by a system of the data map
(everyone it may hold: `datamap.may_hold_condition`), by the opt-out list or from a list of ids. Every change is
audited with ids and field names only. Telling the affected clients: `services/breach_subjects.py`.
"""
import csv
import datetime as dt
import io
import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, insert, literal, select, update
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models.base import utcnow
from ..models.breaches import (CLOSED, LEGACY_SYSTEMS, NOTIFIED, OPEN, OTHER_SYSTEM, BreachAffectedClient,
                               BreachIncident, BreachStep)
from ..models.clients import ERASED, Client
from ..models.disclosures import DATA_CATEGORIES
from ..models.optouts import MarketingOptOut
from ..models.records import Booking
from ..models.systems import DataSystem
from . import audit, datamap, deadlines

RULE = "breach_notice"
MAX_TEXT = 5000
MAX_IDS = 100_000
NEXT_STATUS = {OPEN: NOTIFIED, NOTIFIED: CLOSED}
STATUS_LABELS = {OPEN: _l("Open"), NOTIFIED: _l("Authority notified"), CLOSED: _l("Closed")}
# "Other" (a system not on the data map) and the codes incidents used before the data map named systems.
SYSTEM_LABELS = {
    OTHER_SYSTEM: _l("Another system, not on the data map"),
    "backoffice": _l("Back-office"), "booking_site": _l("B2B booking site"),
    "reservation_system": _l("Reservation system"), "email": _l("E-mail"), "crm": _l("CRM"),
}
_IATA = re.compile(r"^[A-Z]{3}$")
_HEADER = re.compile(r"^[A-Za-z_]{1,40}$")


class BreachError(ValueError):
    """Input the register refuses; `errors` maps field names to translated messages. Nothing was saved."""

    def __init__(self, errors):
        self.errors = errors if isinstance(errors, dict) else {"_": errors}
        super().__init__("; ".join(str(v) for v in self.errors.values()))


def _text(value, field, errors, required=True, limit=MAX_TEXT):
    value = (value or "").strip()
    if required and not value:
        errors[field] = _("This field is required.")
    elif len(value) > limit:
        errors[field] = _("At most %(count)s characters.", count=limit)
    return value or None


def _choices(values, allowed, field, errors):
    values = [v for v in (values or []) if v]
    if any(v not in allowed for v in values):
        errors[field] = _("Choose from the list.")
    return sorted(set(values) & set(allowed))


def _systems(values, errors, kept=()):
    """Data map system ids (as ints, in id order) and "other"; anything else is refused. A code from before the
    data map is kept when the incident being saved has it already (`kept`); a new report may not name one."""
    known = {system.id for system in datamap.all_systems()}
    chosen, other, legacy = set(), False, set()
    for value in values or []:
        value = str(value).strip()
        if value == OTHER_SYSTEM:
            other = True
        elif value in LEGACY_SYSTEMS and value in kept:
            legacy.add(value)
        elif value.isdigit() and len(value) < 10 and int(value) in known:
            chosen.add(int(value))
        elif value:
            errors["systems"] = _("Choose from the list.")
    return sorted(chosen) + ([OTHER_SYSTEM] if other else []) + sorted(legacy)


def system_choices(incident=None):
    """(value, name) of every system an incident may name: the data map's systems, then "other" (and the codes from
    before the data map that this incident already has)."""
    held = (incident.systems or []) if incident is not None else []
    legacy = [(code, str(SYSTEM_LABELS[code])) for code in LEGACY_SYSTEMS if code in held]
    return [(str(system.id), system.name) for system in datamap.all_systems()] + [
        (OTHER_SYSTEM, str(SYSTEM_LABELS[OTHER_SYSTEM]))] + legacy


def system_names(values):
    """The names of the systems an incident names (data map ids, "other", or a code from before the data map)."""
    ids = [v for v in values or [] if isinstance(v, int)]
    names = dict(db.session.execute(select(DataSystem.id, DataSystem.name).where(DataSystem.id.in_(ids))).all()) \
        if ids else {}
    return [names.get(v, f"#{v}") if isinstance(v, int) else str(SYSTEM_LABELS.get(v, v)) for v in values or []]


def _clean(fields, errors, incident=None):
    clean = {}
    discovered_at = fields.get("discovered_at")
    if not isinstance(discovered_at, dt.datetime):
        errors["discovered_at"] = _("Enter when the breach was discovered.")
    elif discovered_at > utcnow() + dt.timedelta(minutes=5):
        errors["discovered_at"] = _("The discovery time cannot be in the future.")
    else:
        clean["discovered_at"] = discovered_at
    clean["discovered_by"] = _text(fields.get("discovered_by"), "discovered_by", errors, limit=200)
    clean["description"] = _text(fields.get("description"), "description", errors)
    clean["data_categories"] = _choices(fields.get("data_categories"), DATA_CATEGORIES, "data_categories", errors)
    clean["systems"] = _systems(fields.get("systems"), errors,
                                kept={str(v) for v in (incident.systems or [])} if incident is not None else ())
    count = fields.get("estimated_count")
    if count is not None and (not isinstance(count, int) or not 0 <= count <= 100_000_000):
        errors["estimated_count"] = _("Enter a whole number of clients.")
    clean["estimated_count"] = count
    return clean


def notice_due(discovered_at):
    """When the authorised body must have the notice: 1 working day (the editable rule) after discovery."""
    rule = deadlines.rule_for(RULE)
    return deadlines.due_after(discovered_at, rule.working_days if rule is not None else 1)


def report(by, **fields):
    """Record a new incident (support, managers, supervisors) with its notice deadline; commits."""
    errors = {}
    clean = _clean(fields, errors)
    if errors:
        raise BreachError(errors)
    incident = BreachIncident(**clean, status=OPEN, reported_by_id=by.id if by else None,
                              notice_due_at=notice_due(clean["discovered_at"]))
    db.session.add(incident)
    db.session.flush()
    audit.record("breach.report", object_type="breach", object_id=incident.id,
                 details={"fields": sorted(k for k, v in clean.items() if v), "notice_due_at": incident.notice_due_at})
    db.session.commit()
    return incident


def get(incident_id):
    if not isinstance(incident_id, int) or not 0 < incident_id < 2 ** 31:
        return None  # a hostile /999…/ in the URL is "no such incident", never a database error
    return db.session.get(BreachIncident, incident_id)


def read(incident_id):
    """An incident for its page; the read is audited (it lists affected clients' ids)."""
    incident = get(incident_id)
    if incident is not None:
        audit.record("breach.read", object_type="breach", object_id=incident.id)
        db.session.commit()
    return incident


def locked(incident_id, version):
    """The incident to change; refused when missing or changed since the page was read (`version`)."""
    incident = get(incident_id)
    if incident is None:
        raise BreachError(_("No such incident."))
    if version is not None and version != incident.version:
        raise BreachError(_("Someone else changed this incident; reload the page."))
    return incident


def _save(incident, action, details):
    try:
        audit.record(action, object_type="breach", object_id=incident.id, details=details)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise BreachError(_("Someone else changed this incident; reload the page.")) from None


def edit(incident_id, by, version=None, **fields):
    """Change the incident's facts; a new discovery time moves the notice deadline. Commits."""
    errors = {}
    incident = locked(incident_id, version)
    clean = _clean(fields, errors, incident)
    if errors:
        raise BreachError(errors)
    changed = sorted(k for k, v in clean.items() if getattr(incident, k) != v)
    for key in changed:
        setattr(incident, key, clean[key])
    if "discovered_at" in changed:
        incident.notice_due_at = notice_due(incident.discovered_at)
    _save(incident, "breach.update", {"fields": changed})
    return incident


def add_step(incident_id, by, text, version=None):
    """Record a containment step; commits."""
    errors = {}
    text = _text(text, "text", errors)
    if errors:
        raise BreachError(errors)
    incident = locked(incident_id, version)
    step = BreachStep(incident_id=incident.id, by_id=by.id if by else None, text=text, at=utcnow())
    db.session.add(step)
    incident.updated_at = utcnow()
    db.session.flush()
    _save(incident, "breach.containment_step", {"step_id": step.id})
    return step


def record_notice_sent(incident_id, by, sent_on, reference, contact, version=None):
    """The notice to the authorised body went out: date, reference, contact of the responsible person. Commits."""
    errors = {}
    if not isinstance(sent_on, dt.date):
        errors["sent_on"] = _("Enter the date the notice was sent.")
    elif sent_on > dt.date.today() + dt.timedelta(days=1):
        errors["sent_on"] = _("The date cannot be in the future.")
    reference = _text(reference, "reference", errors, limit=100)
    contact = _text(contact, "contact", errors, limit=300)
    if errors:
        raise BreachError(errors)
    incident = locked(incident_id, version)
    if incident.status != OPEN:
        raise BreachError(_("The notice is already recorded for this incident."))
    incident.notice_sent_on, incident.notice_reference, incident.notice_contact = sent_on, reference, contact
    incident.status = NOTIFIED
    _save(incident, "breach.notice_sent", {"fields": ["notice_sent_on", "notice_reference", "notice_contact"],
                                           "on_time": deadlines.end_of_working_day(sent_on) <= incident.notice_due_at})
    return incident


def close(incident_id, by, version=None):
    incident = locked(incident_id, version)
    if incident.status != NOTIFIED:
        raise BreachError(_("Record the notice to the authorised body before closing the incident."))
    incident.status, incident.closed_at = CLOSED, utcnow()
    _save(incident, "breach.close", {"status": CLOSED})
    return incident


# --- affected clients: chosen by a query, stored as ids --------------------------------------------------------

def _add_ids(incident, id_select, selection):
    """INSERT ... SELECT the ids not yet listed (set-based: any number of clients, one statement)."""
    already = select(BreachAffectedClient.client_id).where(BreachAffectedClient.incident_id == incident.id)
    source = id_select.where(Client.id.not_in(already)).distinct()
    rows = source.with_only_columns(literal(incident.id), Client.id, literal(selection), literal(utcnow()))
    before = affected_counts(incident.id)["total"]
    db.session.execute(insert(BreachAffectedClient.__table__).from_select(
        ["incident_id", "client_id", "selection", "added_at"], rows))
    # Counted, not rowcount: psycopg reports -1 for this INSERT ... SELECT.
    return affected_counts(incident.id)["total"] - before


def add_affected(incident_id, by, *, selection, origin=None, destination=None, date_from=None, date_to=None,
                 ids_text=None, system=None, version=None):
    """Add affected clients chosen by booking route/date, by system, by the opt-out list or by a list of ids; commits.

    Only existing, not erased clients are added; the count added is returned and audited (never the ids).
    """
    incident = locked(incident_id, version)
    errors = {}
    base = select(Client.id).where(Client.status != ERASED)
    if selection == "route_date":
        origin, destination = (origin or "").strip().upper(), (destination or "").strip().upper()
        for field, value in (("origin", origin), ("destination", destination)):
            if value and not _IATA.match(value):
                errors[field] = _("Enter a three-letter airport code.")
        if not isinstance(date_from, dt.date) or not isinstance(date_to, dt.date):
            errors["date_from"] = _("Enter the first and last flight date.")
        elif date_from > date_to or (date_to - date_from).days > 366:
            errors["date_from"] = _("The period must run forward and last at most a year.")
        if errors:
            raise BreachError(errors)
        bookings = select(Booking.client_id).where(Booking.flight_date.between(date_from, date_to))
        if origin:
            bookings = bookings.where(Booking.origin == origin)
        if destination:
            bookings = bookings.where(Booking.destination == destination)
        id_select = base.where(Client.id.in_(bookings))
    elif selection == "system":
        chosen = db.session.get(DataSystem, int(system)) \
            if isinstance(system, str) and system.isdigit() and len(system) < 10 else None
        if chosen is None:
            raise BreachError({"system": _("Choose a system of the data map.")})
        try:
            id_select = base.where(datamap.may_hold_condition(chosen))
        except datamap.NoHoldings:
            raise BreachError({"system": _("The data map records no categories of personal data for this "
                                           "system: record them under Systems, or give a list of ids.")}) from None
    elif selection == "opt_out_list":
        id_select = base.where(Client.id.in_(select(MarketingOptOut.client_id).where(
            MarketingOptOut.client_id.is_not(None), MarketingOptOut.removed_at.is_(None))))
    elif selection == "id_list":
        ids = parse_ids(ids_text)
        id_select = base.where(Client.id.in_(ids))
    else:
        raise BreachError({"selection": _("Choose how to select the clients.")})
    added = _add_ids(incident, id_select, selection)
    incident.updated_at = utcnow()
    _save(incident, "breach.affected_add", {"selection": selection, "added": added})
    return added


def parse_ids(text):
    """Client ids from a CSV or a pasted list (commas, semicolons, spaces, new lines; an optional header)."""
    text = text or ""
    if len(text) > 2_000_000:
        raise BreachError({"ids_text": _("The list is too long.")})
    ids = set()
    for row in csv.reader(io.StringIO(text.replace(";", ",").replace("\t", ","))):
        for cell in row:
            for token in cell.split():
                token = token.strip().lstrip("#")
                if token.isdigit() and len(token) < 12:
                    ids.add(int(token))
                elif token and not ids and _HEADER.match(token):
                    continue  # a header such as "client_id"
                elif token:
                    raise BreachError({"ids_text": _("Not a client id: %(value)s", value=token[:20])})
    if not ids:
        raise BreachError({"ids_text": _("Enter at least one client id.")})
    if len(ids) > MAX_IDS:
        raise BreachError({"ids_text": _("At most %(count)s ids at a time.", count=MAX_IDS)})
    return sorted(ids)


def affected(incident_id, only_pending=False, limit=500):
    query = select(BreachAffectedClient).where(BreachAffectedClient.incident_id == incident_id)
    if only_pending:
        query = query.where(BreachAffectedClient.notified_at.is_(None))
    return db.session.execute(query.order_by(BreachAffectedClient.client_id).limit(limit)).scalars().all()


def affected_counts(incident_id):
    """Listed, told, and still to be told — of whom `queued` have a notice waiting in the letter outbox."""
    total, told, queued = db.session.execute(
        select(func.count(), func.count(BreachAffectedClient.notified_at),
               func.count(BreachAffectedClient.letter_id).filter(BreachAffectedClient.notified_at.is_(None)))
        .where(BreachAffectedClient.incident_id == incident_id)).one()
    return {"total": total, "notified": told, "pending": total - told, "queued": queued}


def record_subjects_notified(incident_id, by, client_ids, channel, at=None):
    """Mark affected clients as told another way (letter, e-mail, SMS, phone: staff record it); the breach notices
    of the letter outbox mark themselves when sent (services/breach_subjects.py). Commits."""
    incident = locked(incident_id, None)
    if channel not in ("letter", "email", "sms", "phone", "outbox"):
        raise BreachError({"channel": _("Choose from the list.")})
    condition = and_(BreachAffectedClient.incident_id == incident.id, BreachAffectedClient.notified_at.is_(None))
    if client_ids != "all":
        if not client_ids or len(client_ids) > MAX_IDS:
            raise BreachError({"ids_text": _("Enter at least one client id.")})
        condition = and_(condition, BreachAffectedClient.client_id.in_(client_ids))
    told = db.session.execute(update(BreachAffectedClient).where(condition)
                              .values(notified_at=at or utcnow(), notified_channel=channel)
                              .execution_options(synchronize_session=False)).rowcount or 0
    _save(incident, "breach.subjects_notified", {"count": told, "channel": channel})
    return told


# --- lists and the home page -------------------------------------------------------------------------------------

def incidents(limit=200):
    return db.session.execute(select(BreachIncident).order_by(BreachIncident.id.desc()).limit(limit)).scalars().all()


def notices_due(limit=20):
    """Incidents whose notice to the authorised body is not yet sent: the home page's most urgent items."""
    return db.session.execute(select(BreachIncident).where(BreachIncident.status == OPEN)
                              .order_by(BreachIncident.notice_due_at).limit(limit)).scalars().all()
