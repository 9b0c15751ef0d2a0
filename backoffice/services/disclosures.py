"""The disclosure register (policy 4.1–4.2; Law 94-V art. 19): grants with a life cycle, and each actual disclosure.

A grant is active from its start date to its expiry date unless revoked (by the client's request or by staff with a
reason); the periodic job ends grants past their date as expired. Revoked and expired grants stay in the register
as history (and in the client's access export) but never count as active. Each disclosure is logged against a
grant or a law.
"""
import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update

from .. import labels
from ..extensions import db
from ..models.base import utcnow
from ..models.clients import ERASED, Client
from ..models.disclosures import (CLIENT_REQUEST, CONTRACT, DATA_CATEGORIES, END_KINDS, EXPIRED, LAW, LEGAL_BASES,
                                  RECIPIENT_CATEGORIES, REVOKED_BY_CLIENT, REVOKED_BY_STAFF, DisclosureGrant,
                                  DisclosureLog)
from . import audit
from .erasure import local_today

RECIPIENT_CATEGORY_LABELS = {
    "person": _l("Person named by the client"), "agency": _l("Travel agency"), "state_body": _l("State body"),
    "processor": _l("Processor under contract"), "partner_airline": _l("Partner airline"), "other": _l("Other"),
}
LEGAL_BASIS_LABELS = {CLIENT_REQUEST: _l("Client's request"), CONTRACT: _l("Contract performance"),
                      LAW: _l("Required by law")}
END_KIND_LABELS = {REVOKED_BY_CLIENT: _l("Revoked at the client's request"), REVOKED_BY_STAFF: _l("Revoked by staff"),
                   EXPIRED: _l("Expired")}
DATA_CATEGORY_LABELS = labels.DATA_CATEGORIES


class DisclosureError(ValueError):
    """Input the register refuses (translated); nothing was saved."""


def active_condition(today):
    return and_(DisclosureGrant.revoked_at.is_(None),
                or_(DisclosureGrant.starts_on.is_(None), DisclosureGrant.starts_on <= today),
                or_(DisclosureGrant.expires_on.is_(None), DisclosureGrant.expires_on >= today))


def register(only_active=False, client_id=None, limit=200, today=None):
    """The register's rows, newest first; `only_active` leaves out revoked, expired and not yet started grants."""
    query = select(DisclosureGrant)
    if only_active:
        query = query.where(active_condition(today or local_today()))
    if client_id is not None:
        query = query.where(DisclosureGrant.client_id == client_id)
    return db.session.execute(query.order_by(DisclosureGrant.id.desc()).limit(limit)).scalars().all()


def _categories(values):
    values = [v for v in (values or []) if v]
    if not values or any(v not in DATA_CATEGORIES for v in values):
        raise DisclosureError(_("Choose at least one category of data from the list."))
    return sorted(set(values))


def _reason(text, limit=2000):
    text = (text or "").strip()
    if not text:
        raise DisclosureError(_("Give the reason."))
    if len(text) > limit:
        raise DisclosureError(_("At most %(count)s characters.", count=limit))
    return text


def create_grant(by, *, client_id, recipient, recipient_category, legal_basis, data_categories, starts_on=None,
                 expires_on=None, scope=None, request_id=None):
    """Enter a grant in the register (policy 4.1); commits."""
    client = db.session.get(Client, client_id) if isinstance(client_id, int) else None
    if client is None or client.status == ERASED:
        raise DisclosureError(_("No such client."))
    recipient = (recipient or "").strip()
    if not recipient or len(recipient) > 200:
        raise DisclosureError(_("Name the recipient (at most 200 characters)."))
    if recipient_category not in RECIPIENT_CATEGORIES or legal_basis not in LEGAL_BASES:
        raise DisclosureError(_("Choose from the list."))
    categories = _categories(data_categories)
    if starts_on and expires_on and expires_on < starts_on:
        raise DisclosureError(_("The expiry date must not be before the start date."))
    grant = DisclosureGrant(client_id=client.id, request_id=request_id, recipient=recipient,
                            scope=(scope or ", ".join(categories))[:2000], recipient_category=recipient_category,
                            legal_basis=legal_basis, data_categories=categories, starts_on=starts_on or local_today(),
                            expires_on=expires_on, created_by_id=by.id if by else None)
    db.session.add(grant)
    db.session.flush()
    audit.record("disclosure_grant.create", object_type="disclosure_grant", object_id=grant.id,
                 details={"client_id": client.id, "legal_basis": legal_basis, "categories": categories})
    db.session.commit()
    return grant


def revoke(grant_id, by, kind, reason):
    """Revoke a grant at the client's request or by staff with a reason (policy 4.1); commits."""
    if kind not in (REVOKED_BY_CLIENT, REVOKED_BY_STAFF):
        raise DisclosureError(_("Choose who revokes the grant."))
    reason = _reason(reason)
    grant = db.session.get(DisclosureGrant, grant_id) if isinstance(grant_id, int) else None
    if grant is None:
        raise DisclosureError(_("No such grant."))
    if grant.revoked_at is not None:
        raise DisclosureError(_("The grant has already ended."))
    grant.revoked_at, grant.end_kind, grant.revocation_reason = utcnow(), kind, reason
    grant.revoked_by_id = by.id if by else None
    audit.record("disclosure_grant.revoke", object_type="disclosure_grant", object_id=grant.id,
                 details={"client_id": grant.client_id, "kind": kind, "fields": ["revocation_reason"]})
    db.session.commit()
    return grant


def expire_due(today=None):
    """End every grant past its expiry date (the periodic job); returns how many. Commits."""
    today = today or local_today()
    due = select(DisclosureGrant.id).where(DisclosureGrant.revoked_at.is_(None), DisclosureGrant.expires_on < today)
    ids = db.session.execute(due).scalars().all()
    if ids:
        db.session.execute(update(DisclosureGrant).where(DisclosureGrant.id.in_(ids),
                                                         DisclosureGrant.revoked_at.is_(None))
                           .values(revoked_at=utcnow(), end_kind=EXPIRED).execution_options(synchronize_session=False))
        audit.record("disclosure_grant.expire", object_type="disclosure_grant", details={"grant_ids": ids[:1000],
                                                                                         "count": len(ids)})
    db.session.commit()
    return {"expired": len(ids)}


def log_disclosure(by, *, client_id, data_categories, disclosed_at, grant_id=None, recipient=None,
                   recipient_category=None, law_reference=None):
    """Record an actual disclosure under an active grant, or under a law (with its reference); commits."""
    client = db.session.get(Client, client_id) if isinstance(client_id, int) else None
    if client is None:
        raise DisclosureError(_("No such client."))
    if not isinstance(disclosed_at, dt.datetime) or disclosed_at > utcnow() + dt.timedelta(minutes=5):
        raise DisclosureError(_("Enter when the data was given (not in the future)."))
    categories = _categories(data_categories)
    if grant_id is not None:
        grant = db.session.get(DisclosureGrant, grant_id)
        if grant is None or grant.client_id != client.id:
            raise DisclosureError(_("No such grant for this client."))
        if not grant.is_active(local_today()):
            raise DisclosureError(_("The grant is not active: it was revoked, has expired or has not started."))
        if grant.data_categories and not set(categories) <= set(grant.data_categories):
            raise DisclosureError(_("The grant does not cover all these categories of data."))
        entry = DisclosureLog(client_id=client.id, grant_id=grant.id, recipient=grant.recipient,
                              recipient_category=grant.recipient_category or "other",
                              legal_basis=grant.legal_basis or CLIENT_REQUEST, data_categories=categories,
                              disclosed_at=disclosed_at, recorded_by_id=by.id if by else None)
    else:
        recipient = (recipient or "").strip()
        law_reference = (law_reference or "").strip()
        if not recipient or len(recipient) > 200 or recipient_category not in RECIPIENT_CATEGORIES:
            raise DisclosureError(_("Name the recipient and its category."))
        if not law_reference or len(law_reference) > 300:
            raise DisclosureError(_("Without a grant, name the law or order the disclosure rests on."))
        entry = DisclosureLog(client_id=client.id, recipient=recipient, recipient_category=recipient_category,
                              legal_basis=LAW, law_reference=law_reference, data_categories=categories,
                              disclosed_at=disclosed_at, recorded_by_id=by.id if by else None)
    db.session.add(entry)
    db.session.flush()
    audit.record("disclosure.log", object_type="disclosure_log", object_id=entry.id,
                 details={"client_id": client.id, "grant_id": entry.grant_id, "categories": categories})
    db.session.commit()
    return entry


def log_entries(grant_id=None, client_id=None, limit=200):
    query = select(DisclosureLog)
    if grant_id is not None:
        query = query.where(DisclosureLog.grant_id == grant_id)
    if client_id is not None:
        query = query.where(DisclosureLog.client_id == client_id)
    return db.session.execute(query.order_by(DisclosureLog.id.desc()).limit(limit)).scalars().all()


def read_grant(grant_id):
    grant = db.session.get(DisclosureGrant, grant_id) if isinstance(grant_id, int) else None
    if grant is not None:
        audit.record("disclosure_grant.read", object_type="disclosure_grant", object_id=grant.id)
        db.session.commit()
    return grant


def export_categories(client_id):
    """Each actual disclosure for the client's access export (policy 5.4), beside the grants themselves (services.export's
    "disclosures" category carries every column of the register, so how a grant ended is there too). Same shape as
    services.export's categories: (category, csv name, table query, row → dict)."""
    log = DisclosureLog.__table__
    return (
        ("disclosure_log", "disclosure_log", select(log).where(log.c.client_id == client_id).order_by(log.c.id),
         lambda e: {
            "id": e.id, "disclosed_at": e.disclosed_at, "recipient": e.recipient,
            "recipient_category": e.recipient_category, "legal_basis": e.legal_basis, "grant_id": e.grant_id,
            "law_reference": e.law_reference, "data_categories": ", ".join(e.data_categories or []),
            "source": "staff_entry"}),
    )


__all__ = ["END_KINDS", "register", "create_grant", "revoke", "expire_due", "log_disclosure", "log_entries"]
