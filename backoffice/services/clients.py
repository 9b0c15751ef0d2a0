"""Finding clients and reading their full record (policy 5.4, 4.3)."""
import re

from sqlalchemy import and_, select

from ..extensions import db
from ..identifiers import checksum_ok, name_key, normalise_email, normalise_phone, try_normalise
from ..models.clients import Client
from ..models.records import Booking
from . import audit
from .transaction import user_action

PNR_RE = re.compile(r"^[A-Z0-9]{6}$")
# Upper bound for an indexed prefix range: every string that starts with the prefix sorts below prefix + this.
_PREFIX_END = "\U0010ffff"


def classify_term(term):
    """Decide what staff typed: ('email'|'iin'|'phone'|'pnr'|'name', normalised value)."""
    term = (term or "").strip()
    if not term:
        return None, None
    if "@" in term:
        return "email", try_normalise(normalise_email, term) or term.lower()
    digits = re.sub(r"[\s\-()]", "", term)
    if re.fullmatch(r"\d{12}", digits) and checksum_ok(digits):
        return "iin", digits
    if re.fullmatch(r"\+?\d{10,15}", digits):
        phone = try_normalise(normalise_phone, term)
        if phone:
            return "phone", phone
    if PNR_RE.fullmatch(term.upper()):
        # Six letters/digits may be a PNR or the start of a surname: search both.
        return "pnr_or_name", term.upper()
    return "name", name_key(term)


def search_condition(term):
    """A WHERE condition that an index serves for what staff typed (never LIKE '%x%')."""
    kind, value = classify_term(term)
    if kind is None:
        return None
    if kind == "email":
        return Client.email_norm == value
    if kind == "iin":
        return Client.iin == value
    if kind == "phone":
        return Client.phone_e164 == value
    if kind == "pnr_or_name":
        by_pnr = select(Booking.client_id).where(Booking.pnr == value)
        if any(c.isdigit() for c in value):
            return Client.id.in_(by_pnr)
        # One IN over a UNION, not "IN (...) OR name range": PostgreSQL cannot serve that OR from indexes and
        # scanned all clients (938 ms at 1 M) for a letters-only PNR.
        by_name = select(Client.id).where(_name_prefix(name_key(value)))
        return Client.id.in_(by_pnr.union(by_name))
    return _name_prefix(value)


def _name_prefix(key):
    return and_(Client.name_key >= key, Client.name_key < key + _PREFIX_END)


def find_clients(term, limit=20):
    condition = search_condition(term)
    if condition is None:
        return []
    return db.session.execute(select(Client).where(condition).order_by(Client.id).limit(limit)).scalars().all()


@user_action
def read_full_record(client_id, purpose="view"):
    """Load a client with every personal-data record, and audit the read (policy 4.3; committed here)."""
    client = db.session.get(Client, client_id)
    if client is None:
        return None
    audit.record("client.read_full_record", object_type="client", object_id=client.id,
                 details={"purpose": purpose})
    return client
