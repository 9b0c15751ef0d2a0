"""Consent per client and purpose, as a history (policy 3.2.1–3.2.3, 4.2, 5.3).

One Consent row per grant; withdrawal closes the row and giving again opens a new one, so the rows are the
timeline. Marketing consent (3.2.2) and the suppression list agree at all times:
an active marketing consent ⇔ no active channel-'all' opt-out matching the client's e-mail or phone.
"""
from flask_babel import gettext as _
from sqlalchemy import select

from .. import labels
from ..extensions import db
from ..models.base import utcnow
from ..models.clients import ERASED
from ..models.consent import IDENTIFICATION, MARKETING, PURPOSE_CLAUSES, PURPOSES, STATISTICS, THIRD_PARTY, Consent
from . import audit

__all__ = ["IDENTIFICATION", "MARKETING", "STATISTICS", "THIRD_PARTY", "give_consent", "withdraw_consent",
           "timeline", "current_consents", "ConsentError"]

class ConsentError(ValueError):
    """A consent change that cannot be made; the message is translated and safe to show."""


def _check_purpose(purpose):
    if purpose not in PURPOSES:
        raise ConsentError(_("Unknown consent purpose."))


def active_consents(client_id, purpose):
    return db.session.execute(
        select(Consent).where(Consent.client_id == client_id, Consent.purpose == purpose,
                              Consent.withdrawn_at.is_(None)).order_by(Consent.id)
    ).scalars().all()


def give_consent(client, purpose, source, by=None, request_id=None, *, notice_version_id=None, channel=None):
    """Record the client's consent for a purpose (policy 3.2); idempotent while a grant is open.

    The record only: marketing consent is given through optouts.give_marketing_consent, which also ends the
    client's channel-'all' opt-outs (the "marketing consent ⇔ no opt-out" rule lives there). The caller commits.
    """
    _check_purpose(purpose)
    if client.status == ERASED:
        raise ConsentError(_("An erased client cannot give consent."))
    existing = active_consents(client.id, purpose)
    if existing:
        return existing[0]
    consent = Consent(client_id=client.id, purpose=purpose, source=(source or "staff_entry")[:20], given_at=utcnow(),
                      notice_version_id=notice_version_id, channel=channel)
    db.session.add(consent)
    db.session.flush()
    audit.record("consent.give", object_type="client", object_id=client.id, request_id=request_id, actor=by,
                 details={"purpose": purpose, "consent_id": consent.id, "source": consent.source})
    return consent


def withdraw_consent(client, purpose, source, by=None, request_id=None, *, channel=None):
    """Close the client's open grant for a purpose (policy 5.3, 3.2.2); returns the closed rows.

    The record only: marketing consent is withdrawn through optouts.withdraw_marketing_consent, which also puts
    the client's addresses on the suppression list. The caller commits.
    """
    _check_purpose(purpose)
    now = utcnow()
    closed = active_consents(client.id, purpose)
    for consent in closed:
        consent.withdrawn_at = now
        consent.withdrawn_source = (source or "staff_entry")[:20]
        consent.withdrawn_channel = channel
    db.session.flush()
    if closed:
        audit.record("consent.withdraw", object_type="client", object_id=client.id, request_id=request_id,
                     actor=by, details={"purpose": purpose, "consent_ids": [c.id for c in closed],
                                        "source": closed[0].withdrawn_source})
    return closed


def withdraw_consents(clients, purpose, source, by=None, request_id=None):
    """withdraw_consent for many clients at once (an import's batch): one query for their open grants, one audit
    event per client whose grant closed. Returns {client id: closed rows}. The caller commits."""
    _check_purpose(purpose)
    ids = sorted({client.id for client in clients})
    if not ids:
        return {}
    now, source = utcnow(), (source or "staff_entry")[:20]
    closed = {}
    for consent in db.session.execute(
            select(Consent).where(Consent.client_id.in_(ids), Consent.purpose == purpose,
                                  Consent.withdrawn_at.is_(None)).order_by(Consent.id)).scalars():
        consent.withdrawn_at, consent.withdrawn_source, consent.withdrawn_channel = now, source, None
        closed.setdefault(consent.client_id, []).append(consent)
    db.session.flush()
    for client_id, rows in closed.items():
        audit.record("consent.withdraw", object_type="client", object_id=client_id, request_id=request_id,
                     actor=by, details={"purpose": purpose, "consent_ids": [c.id for c in rows], "source": source})
    return closed


def current_consents(client):
    """{purpose: the open grant or None}, in the policy's order."""
    rows = db.session.execute(
        select(Consent).where(Consent.client_id == client.id, Consent.withdrawn_at.is_(None)).order_by(Consent.id)
    ).scalars().all()
    state = {purpose: None for purpose in PURPOSES}
    for consent in rows:
        state[consent.purpose] = state[consent.purpose] or consent
    return state


def timeline(client):
    """Every grant and withdrawal of the client's consents, newest first, for the client page."""
    rows = db.session.execute(select(Consent).where(Consent.client_id == client.id)).scalars().all()
    events = []
    for consent in rows:
        base = {"purpose": consent.purpose, "label": labels.label(consent.purpose, "purpose"),
                "clause": PURPOSE_CLAUSES.get(consent.purpose, ""), "consent_id": consent.id,
                "notice_version": consent.notice_version.version if consent.notice_version_id else None}
        events.append(dict(base, at=consent.given_at, event="given", source=consent.source, channel=consent.channel))
        if consent.withdrawn_at is not None:
            events.append(dict(base, at=consent.withdrawn_at, event="withdrawn", source=consent.withdrawn_source,
                               channel=consent.withdrawn_channel))
    events.sort(key=lambda e: (e["at"], e["consent_id"], e["event"] == "withdrawn"), reverse=True)
    return events


def overview(client):
    """What the client page shows: the current state per purpose (policy order) and the timeline."""
    state = current_consents(client)
    return {
        "current": [{"purpose": p, "label": labels.CONSENT_PURPOSES[p], "clause": PURPOSE_CLAUSES[p], "consent": state[p]}
                    for p in PURPOSES],
        "events": timeline(client),
    }
