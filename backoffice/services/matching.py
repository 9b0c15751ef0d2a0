"""Which client a request concerns, and which other open requests duplicate it (issue 3).

Candidates are found by indexed equality on normalised columns (e-mail, phone, IIN, PNR); a unique match is linked
at intake, anything else by a handler (`match_client`). A duplicate is merged into the open request it repeats.
The functions returning an effect are the steps' halves that `steps.take_step` runs through the lifecycle.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from .. import system_notes
from ..extensions import db
from ..models.clients import ERASED, Client
from ..models.records import Booking
from ..models.requests import OPEN_STATUSES, PrivacyRequest, RequestEvent
from .lifecycle import InvalidInput


def _candidate_conditions(req):
    conditions = []
    if req.requester_email:
        conditions.append(Client.email_norm == req.requester_email)
    if req.requester_phone:
        conditions.append(Client.phone_e164 == req.requester_phone)
    ident = (req.payload or {}).get("identifier") or {}
    kind, value = ident.get("kind"), ident.get("value")
    if kind == "iin":
        conditions.append(Client.iin == value)
    elif kind == "pnr":
        conditions.append(Client.id.in_(select(Booking.client_id).where(Booking.pnr == value)))
    elif kind == "email":
        conditions.append(Client.email_norm == value)
    elif kind == "phone":
        conditions.append(Client.phone_e164 == value)
    return conditions


def find_candidates(req, limit=10):
    """Clients matching the requester's e-mail, phone, IIN or PNR (indexed equality on normalised columns)."""
    conditions = _candidate_conditions(req)
    if not conditions:
        return []
    return db.session.execute(
        select(Client).where(or_(*conditions), Client.status != ERASED).order_by(Client.id).limit(limit)
    ).scalars().all()


def find_duplicates(req):
    """Other open requests of the same type for the same client (flagged on the request page)."""
    if req.client_id is None:
        return []
    return db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.client_id == req.client_id, PrivacyRequest.type == req.type,
                                     PrivacyRequest.id != req.id, PrivacyRequest.status.in_(OPEN_STATUSES))
        .order_by(PrivacyRequest.id)
    ).scalars().all()


def match_effect(req, client):
    """The effect linking an unmatched request to `client`; InvalidInput for a missing or erased client."""
    if client is None or client.status == ERASED:
        message = _l("Choose an existing client that was not erased.")
        raise InvalidInput(message, {"client_id": message})

    def effect(r):
        r.client_id = client.id
        return {"client_id": client.id}
    return effect


def merge_effect(req, into, by):
    """The effect closing `req` as a duplicate of the open request `into` (same client, same type)."""
    if into is None or into.id == req.id or into.type != req.type or into.client_id != req.client_id \
            or not into.is_open or into.duplicate_of_id is not None:
        message = _l("Choose another open request of the same type for the same client.")
        raise InvalidInput(message, {"duplicate_of": message})

    def effect(r):
        r.duplicate_of_id = into.id
        r.outcome = system_notes.note(_l("Merged into request #%(id)s."), id=into.id)
        db.session.add(RequestEvent(request_id=into.id, actor_id=by.id if by else None, action="duplicate_merged",
                                    from_status=into.status, to_status=into.status, comment=f"#{r.id}"))
        return {"into": into.id}
    return effect


def explain_candidates(req, clients):
    """[(client, ['email'|'phone'|'iin'|'pnr', ...])]: which of the requester's identifiers each candidate matched,
    so a handler choosing between several clients sees why each was offered."""
    ident = (req.payload or {}).get("identifier") or {}
    kind, value = ident.get("kind"), ident.get("value")
    emails = {v for v in (req.requester_email, value if kind == "email" else None) if v}
    phones = {v for v in (req.requester_phone, value if kind == "phone" else None) if v}
    by_pnr = set()
    if kind == "pnr" and clients:
        by_pnr = set(db.session.execute(select(Booking.client_id).where(
            Booking.pnr == value, Booking.client_id.in_([c.id for c in clients]))).scalars())
    result = []
    for client in clients:
        matched = []
        if client.email_norm and client.email_norm in emails:
            matched.append("email")
        if client.phone_e164 and client.phone_e164 in phones:
            matched.append("phone")
        if kind == "iin" and client.iin == value:
            matched.append("iin")
        if client.id in by_pnr:
            matched.append("pnr")
        result.append((client, matched))
    return result
