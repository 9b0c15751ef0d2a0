"""What completing a request does, per type (policy 5.2, 4.1, 3.2.2, 5.3): the effects run inside the step.

- unmatched request: the "we hold no data about you" reply is recorded (`outcome` required);
- rectification (5.2): proposed changes re-validated and applied; field names audited, never values;
- blocking / unblocking (5.2): client status `blocked` (with optional end) / `active`;
  both, when other systems take part, are handed over to them (services/fanout.hand_over): the request waits,
  executing, until every system is done;
- third-party grant (4.1): a DisclosureGrant is recorded in the register;
- marketing opt-out (3.2.2): the requester goes on the suppression list at once;
- consent withdrawal (5.3): consents are withdrawn when a manager approves (the erasure job follows);
- access / erasure / consent withdrawal: the job completes them (services/execution) once it has run.
"""
import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from ..extensions import db
from ..models.base import utcnow
from ..models.clients import ACTIVE, BLOCKED, ERASED, Client
from ..models.consent import Consent
from ..models.disclosures import CLIENT_REQUEST, DisclosureGrant
from ..models.requests import (
    BLOCKING, EXECUTING, MARKETING_OPT_OUT, RECTIFICATION, THIRD_PARTY_GRANT, UNBLOCKING, PrivacyRequest,
)
from . import fanout, optouts
from .lifecycle import IllegalTransition, InvalidInput, optional_text, required_text
from .rectification import apply_rectification

OPT_OUT_RECORDED = _l("Added to the marketing suppression list.")


def completion_effect(req, by, outcome=None):
    """(effect, comment) for a staff member completing `req`; InvalidInput on a bad or missing reply."""
    outcome = optional_text(outcome, "outcome")
    if req.client_id is None and req.type != MARKETING_OPT_OUT:
        outcome = required_text(outcome, "outcome", _l("Record the reply sent to the requester."))

    def effect(r):
        result = None
        if r.client_id is not None and r.status != EXECUTING:
            client = db.session.get(Client, r.client_id)
            if client.status == ERASED:
                raise IllegalTransition(_l("This client was erased; close the request with a reason instead."))
            handing_over = fanout.hands_over(r)  # the table's test: the step then moves to executing
            result = _carry_out(r, client, by, handing_over)
            if handing_over:
                fanout.hand_over(r, result)
                r.outcome = outcome or r.outcome
                return result  # completed by the job once every other system is done
        r.outcome = outcome or r.outcome
        r.completed_at = utcnow()
        return result
    return effect, outcome


def _carry_out(req, client, by, handing_over=False):
    if req.type == RECTIFICATION:
        if client.status == BLOCKED:
            raise IllegalTransition(_l("The client's data is blocked (Law art. 1(3)): it cannot be changed "
                                       "until the block is lifted or ends."))
        return apply_rectification(req, client, keep_previous=handing_over)
    if req.type in (BLOCKING, UNBLOCKING):
        refuse_while_other_block_runs(req)
    if req.type == BLOCKING:
        until = (req.payload or {}).get("blocked_until")
        client.status = BLOCKED
        client.blocked_until = dt.date.fromisoformat(until) if until else None
        return {"client_status": BLOCKED}
    if req.type == UNBLOCKING:
        if client.status != BLOCKED:
            raise IllegalTransition(_l("The client is not blocked."))
        return unblock(client)
    if req.type == THIRD_PARTY_GRANT:
        return _record_grant(req, client, by)
    return None


def unblock(client):
    """The client's block ends in the back-office (policy 5.2): active again, no end date."""
    client.status = ACTIVE
    client.blocked_until = None
    return {"client_status": ACTIVE}


def block_change_executing(client_id):
    """Condition: a blocking or unblocking of this client (a column or a value) is being carried out in the
    other systems."""
    return and_(PrivacyRequest.client_id == client_id, PrivacyRequest.type.in_((BLOCKING, UNBLOCKING)),
                PrivacyRequest.status == EXECUTING)


def refuse_while_other_block_runs(req):
    """A block and its lifting must not race through the other systems: one waits for the other to finish."""
    running = db.session.execute(
        select(PrivacyRequest.id).where(block_change_executing(req.client_id), PrivacyRequest.id != req.id)
        .limit(1)).scalar()
    if running is not None:
        raise IllegalTransition(_l("Request #%(id)s is still blocking or unblocking this client in the other "
                                   "systems: wait until it is completed.", id=running))


def _record_grant(req, client, by):
    data = req.payload or {}
    if not data.get("recipient") or not data.get("scope"):
        raise InvalidInput(_l("The request names no recipient or scope."))
    grant = DisclosureGrant(client_id=client.id, request_id=req.id, recipient=data["recipient"], scope=data["scope"],
                            expires_on=dt.date.fromisoformat(data["expires_on"]) if data.get("expires_on") else None,
                            created_by_id=by.id if by else None, legal_basis=CLIENT_REQUEST)
    db.session.add(grant)
    db.session.flush()
    return {"disclosure_grant_id": grant.id}


def withdraw_consents(client_id, purposes=None):
    """Withdraw the client's active consents (all, or `purposes`) on a consent-withdrawal request (policy 5.3)."""
    query = select(Consent).where(Consent.client_id == client_id, Consent.withdrawn_at.is_(None))
    if purposes:
        query = query.where(Consent.purpose.in_(purposes))
    consents = db.session.execute(query).scalars().all()
    now = utcnow()
    for consent in consents:
        consent.withdrawn_at = now
        consent.withdrawn_source = "privacy_request"
    return len(consents)


def opt_out_effect(by):
    """Put the requester on the suppression list at once (policy 3.2.2), through the opt-out service."""
    def effect(r):
        client = db.session.get(Client, r.client_id) if r.client_id else None
        email = r.requester_email or (client.email_norm if client else None)
        phone = r.requester_phone or (client.phone_e164 if client else None)
        result = optouts.add_opt_out(email=email, phone=phone, channel=(r.payload or {}).get("channel") or "all",
                                     source="privacy_request", by=by, request_id=r.id)
        if client is not None and result.entry.client_id is None:
            result.entry.client_id = client.id
        r.completed_at = utcnow()
        db.session.flush()
        return {"opt_out_id": result.entry.id, "opt_out_created": result.created}
    return effect
