"""Building privacy requests for the lifecycle tests: a request in any status, a handler's first steps."""
from backoffice.extensions import db
from backoffice.models.requests import (
    BLOCKING, MARKETING_OPT_OUT, RECEIVED, RECTIFICATION, THIRD_PARTY_GRANT, UNBLOCKING, PrivacyRequest,
)
from backoffice.models.staff import StaffUser
from backoffice.services import intake
from backoffice.services.steps import take_step
from tests.factories import make_client

PAYLOADS = {
    RECTIFICATION: {"changes": {"position": "Chief accountant"}},
    BLOCKING: {"blocked_until": "2099-01-31"},
    THIRD_PARTY_GRANT: {"recipient": "Law firm Adilet LLP", "scope": "Bookings 2024", "expires_on": "2099-12-31"},
    MARKETING_OPT_OUT: {"channel": "all"},
}


def new_request(type_, by, client="new", status=None, **fields):
    """A request of `type_` for a fresh client, put straight into `status` (with `fields` set) to probe the table."""
    if client == "new":
        client = make_client(status="blocked" if type_ == UNBLOCKING else "active")
    kwargs = dict(requester_email="requester@mail.kz") if type_ == MARKETING_OPT_OUT and client is None else {}
    if type_ == MARKETING_OPT_OUT:
        # An opt-out completes at once; build it in `received` directly to probe the table.
        req = PrivacyRequest(type=type_, channel="email", status=RECEIVED, client_id=client.id if client else None,
                             created_by_id=by.id, payload=PAYLOADS[type_], requester_email="x@mail.kz")
        db.session.add(req)
        db.session.commit()
    else:
        req = intake.create_request(type=type_, by=by, client=client, payload=PAYLOADS.get(type_), **kwargs)
    if status is not None:
        req.status = status
        if status != RECEIVED:
            req.identity_method, req.identity_verified_by_id = "registered_email", by.id
        for key, value in fields.items():
            setattr(req, key, value)
        db.session.commit()
    return req


def to_in_progress(req, by):
    """received → identity_verified → in_progress, by one handler."""
    take_step(req, "verify_identity", by, method="registered_email")
    take_step(req, "start", by)


def make_manager(app):
    user = StaffUser(email=f"m{db.session.query(StaffUser).count()}@test.local", full_name="M", password_hash="x")
    user.role_set = {"manager"}
    db.session.add(user)
    db.session.commit()
    return user
