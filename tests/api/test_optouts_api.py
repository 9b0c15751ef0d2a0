"""POST /api/v1/opt-outs: token, payload, idempotence, rate limit (policy 3.2.2, 4.3)."""
import pytest
from sqlalchemy import func, select

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.consent import Consent
from backoffice.models.integrations import IntegrationToken
from backoffice.models.optouts import MarketingOptOut
from backoffice.services import integrations, optouts
from tests.factories import make_client

URL = "/api/v1/opt-outs"


@pytest.fixture
def token(app, make_staff):
    row, token = integrations.create_token("B2B site unsubscribe link", by=make_staff("admin"))
    db.session.commit()
    return token


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def state():
    """Everything a request could change, except the token's own rate-limit bookkeeping."""
    db.session.expire_all()
    return tuple(db.session.execute(select(func.count()).select_from(model)).scalar()
                 for model in (MarketingOptOut, AuditEvent)) + (
        db.session.execute(select(func.count()).select_from(Consent).where(Consent.withdrawn_at.is_(None))).scalar(),)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer bko_not-a-real-token"},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "bko_x"},
])
def test_missing_or_invalid_token_is_refused_without_side_effects(client, token, headers):
    make_client(email="anna@mail.kz")
    before = state()
    response = client.post(URL, json={"email": "anna@mail.kz", "channel": "all"}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert state() == before


def test_revoked_token_is_refused(client, token, make_staff):
    row = db.session.execute(select(IntegrationToken)).scalar_one()
    integrations.revoke_token(row.id, by=make_staff("admin"))
    db.session.commit()
    assert client.post(URL, json={"email": "a@mail.kz", "channel": "all"}, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("body,content_type,code", [
    (b"{not json", "application/json", "invalid_json"),
    (b'["a@mail.kz"]', "application/json", "invalid_json"),
    (b'{"email": "a@mail.kz", "channel": "all"}', "text/plain", "invalid_json"),
    (b'{"email": "a@mail.kz"}', "application/json", "invalid_channel"),
    (b'{"email": "a@mail.kz", "channel": "fax"}', "application/json", "invalid_channel"),
    (b'{"channel": "all"}', "application/json", "invalid_address"),
    (b'{"email": "not-an-address", "channel": "all"}', "application/json", "invalid_address"),
    (b'{"phone": 77015551234, "channel": "sms"}', "application/json", "invalid_field"),
    (b'{"email": "a@mail.kz", "channel": "all", "name": "Anna"}', "application/json", "unknown_field"),
])
def test_malformed_payload_is_a_400_json_error_without_side_effects(client, token, body, content_type, code):
    make_client(email="a@mail.kz")
    before = state()
    response = client.post(URL, data=body, content_type=content_type, headers=bearer(token))
    assert response.status_code == 400
    assert response.get_json()["error"] == code
    assert response.get_json()["message"]
    assert state() == before


def test_valid_request_is_accepted_idempotently_and_audited(client, token):
    anna = make_client(email="anna@mail.kz", phone="+7 701 555 12 34")
    for _ in range(2):
        response = client.post(URL, json={"email": " Anna@Mail.kz", "channel": "all"}, headers=bearer(token))
        assert response.status_code == 202
        assert response.get_json() == {"status": "accepted"}
    entry = db.session.execute(select(MarketingOptOut)).scalar_one()
    assert entry.source == "unsubscribe_link" and entry.client_id == anna.id
    assert optouts.is_opted_out("anna@mail.kz", channel="email")
    marketing = db.session.execute(select(Consent).where(Consent.client_id == anna.id,
                                                         Consent.purpose == "marketing")).scalar_one()
    assert marketing.withdrawn_at is not None
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "optout.add")).scalars().all()
    assert len(events) == 2
    assert all('"integration_token_id"' in e.details and "anna" not in e.details for e in events)


def test_rate_limit_per_token(app, client, token):
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 2
    codes = [client.post(URL, json={"phone": "+7 701 555 12 3" + str(i), "channel": "sms"},
                         headers=bearer(token)).status_code for i in range(3)]
    assert codes == [202, 202, 429]
    assert db.session.execute(select(func.count()).select_from(MarketingOptOut)).scalar() == 2


def test_api_needs_no_csrf_token_when_csrf_is_on(app, app_config, token):
    protected = create_app(dict(app_config, WTF_CSRF_ENABLED=True))
    with protected.app_context():
        response = protected.test_client().post(URL, json={"email": "a@mail.kz", "channel": "email"},
                                                headers=bearer(token))
        assert response.status_code == 202
        # ... while the staff pages still demand it.
        assert protected.test_client().post("/login", data={"email": "x", "password": "y"}).status_code == 400
