"""Receiving a request (services/intake): validation, due dates, the opt-out completed at once."""
import datetime as dt

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.optouts import MarketingOptOut
from backoffice.models.requests import (
    COMPLETED, ERASURE, MARKETING_OPT_OUT, RECTIFICATION, THIRD_PARTY_GRANT, PrivacyRequest,
)
from backoffice.services import intake, lifecycle
from tests.factories import make_client


@pytest.mark.parametrize("field,value", [
    ("iin", "850101300001"), ("iin", "12345"), ("phone", "not a phone"), ("phone", "+7 000"), ("email", "no-at-sign"),
    ("full_name", "x" * 201), ("date_of_birth", "2999-01-01"), ("date_of_birth", "31/12/1980"),
    ("preferred_language", "de"),
])
def test_invalid_rectification_values_are_refused_with_field_errors(app, team, field, value):
    client = make_client()
    with pytest.raises(lifecycle.InvalidInput) as error:
        intake.create_request(type=RECTIFICATION, by=team.support, client=client, payload={"changes": {field: value}})
    assert f"new_{field}" in error.value.field_errors
    assert db.session.query(PrivacyRequest).count() == 0


def test_rectification_without_any_change_is_refused(app, team):
    with pytest.raises(lifecycle.InvalidInput):
        intake.create_request(type=RECTIFICATION, by=team.support, client=make_client(), payload={"changes": {}})


def test_marketing_opt_out_is_recorded_at_once_without_approval_or_identity_check(app, team):
    client = make_client(consents=("identification", "marketing"))
    req = intake.create_request(type=MARKETING_OPT_OUT, by=team.support, requester_email="Client@Mail.kz",
                             payload={"channel": "email"})
    assert req.status == COMPLETED and req.client_id is None
    entry = db.session.execute(select(MarketingOptOut)).scalar_one()
    # A keyed hash of the normalised address (which key is the opt-out module's business).
    assert len(entry.email_hash) == 64 and "client" not in entry.email_hash and entry.request_id == req.id
    assert entry.channel == "email" and entry.source == "privacy_request"
    req2 = intake.create_request(type=MARKETING_OPT_OUT, by=team.support, client=client)
    assert req2.status == COMPLETED
    entry2 = db.session.execute(select(MarketingOptOut).where(MarketingOptOut.request_id == req2.id)).scalar_one()
    assert len(entry2.phone_hash) == 64 and entry2.client_id == client.id
    marketing = [c for c in client.consents if c.purpose == "marketing"][0]
    assert marketing.withdrawn_at is not None


def test_marketing_opt_out_needs_an_address(app, team):
    with pytest.raises(lifecycle.InvalidInput) as error:
        intake.create_request(type=MARKETING_OPT_OUT, by=team.support)
    assert "requester_email" in error.value.field_errors


@pytest.mark.parametrize("payload,field", [
    ({"scope": "all"}, "recipient"), ({"recipient": "X"}, "scope"),
    ({"recipient": "X", "scope": "all", "expires_on": "2000-01-01"}, "expires_on"),
])
def test_third_party_grant_needs_recipient_scope_and_future_expiry(app, team, payload, field):
    with pytest.raises(lifecycle.InvalidInput) as error:
        intake.create_request(type=THIRD_PARTY_GRANT, by=team.support, client=make_client(), payload=payload)
    assert field in error.value.field_errors


def test_new_request_gets_its_statutory_due_date(app, team):
    received = dt.datetime(2026, 3, 20, 5, 0)  # 10:00 Almaty, Friday before Nauryz
    req = intake.create_request(type=ERASURE, by=team.support, client=make_client(), received_at=received)
    assert req.due_at == dt.datetime(2026, 3, 26, 13, 0)  # 18:00 Almaty, Thursday 26 March
