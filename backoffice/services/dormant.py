"""Dormant accounts (policy 3.1; Law 94-V art. 7): clients with no booking and no login for N years (a setting,
default 3), listed for review and, if the airline enables it, erased through the normal erasure request path —
a request per client that staff verify and a manager approves like any other."""
from flask_babel import gettext as _
from sqlalchemy import exists, func, select

from ..extensions import db
from ..models.clients import ACTIVE, Client, ClientAccount
from ..models.records import Booking
from ..models.requests import CONSENT_WITHDRAWAL, ERASURE, OPEN_STATUSES, PrivacyRequest
from . import audit, compliance_settings
from . import intake
from .erasure import local_today, years_before
from .transaction import user_action

PAGE = 100


class DormantError(ValueError):
    """Refused (translated); nothing was opened."""


def _condition(years, today=None):
    cutoff = years_before(today or local_today(), years)
    recent_booking = exists().where(Booking.client_id == Client.id,
                                    (Booking.issued_at >= cutoff) | (Booking.flight_date >= cutoff.date()))
    recent_login = exists().where(ClientAccount.client_id == Client.id,
                                  func.coalesce(ClientAccount.last_login_at, ClientAccount.registered_at) >= cutoff)
    open_erasure = exists().where(PrivacyRequest.client_id == Client.id,
                                  PrivacyRequest.type.in_((ERASURE, CONSENT_WITHDRAWAL)),
                                  PrivacyRequest.status.in_(OPEN_STATUSES))
    return (Client.status == ACTIVE) & (Client.created_at < cutoff) & ~recent_booking & ~recent_login & ~open_erasure


def dormant_ids(after_id=0, limit=PAGE, today=None):
    """Ids of dormant clients after `after_id`, in id order (a page for the review list)."""
    condition = _condition(compliance_settings.dormant_years(), today)
    return db.session.execute(select(Client.id).where(condition, Client.id > after_id).order_by(Client.id)
                              .limit(limit)).scalars().all()


@user_action
def review_page(after_id=0, today=None):
    """A page of dormant clients' ids for review; the listing is audited (ids are personal-data pointers)."""
    ids = dormant_ids(after_id=after_id, today=today)
    audit.record("dormant.list", object_type="client", details={"count": len(ids)})
    return ids


def open_erasure_requests(by, client_ids, today=None):
    """Open an erasure request for each chosen client that is still dormant; returns the request ids.

    Refused unless the airline enabled it (setting). The requests then follow the normal path (identity,
    approval, the erasure job); each is created by the request lifecycle, which commits it.
    """
    if not compliance_settings.dormant_erasure_enabled():
        raise DormantError(_("Erasure of dormant accounts is not enabled (see the processing register settings)."))
    wanted = sorted({i for i in client_ids if isinstance(i, int)})[:PAGE]
    if not wanted:
        raise DormantError(_("Choose at least one client."))
    condition = _condition(compliance_settings.dormant_years(), today)
    clients = db.session.execute(select(Client).where(condition, Client.id.in_(wanted))).scalars().all()
    opened = []
    for client in clients:
        req = intake.create_request(
            by=by, type=ERASURE, channel="e_document", client=client,
            description=f"Dormant account: no booking and no login for {compliance_settings.dormant_years()} years "
                        "(policy 3.1; retention review)")
        opened.append(req.id)
    audit.record("dormant.erasure_opened", object_type="client", details={"request_ids": opened,
                                                                         "count": len(opened)})
    db.session.commit()
    return opened
