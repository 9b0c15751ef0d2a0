"""POST /api/v1/consent-events (issue 15): token, notice version, idempotent by event id."""
import datetime as dt

import pytest

from backoffice.extensions import db
from backoffice.models import Consent, ConsentIntakeEvent, NoticeVersion
from backoffice.services import consents, integrations
from tests.factories import make_client

URL = "/api/v1/consent-events"


@pytest.fixture
def token(app, make_staff):
    _row, token = integrations.create_token("Booking site consents", by=make_staff("admin"))
    db.session.add(NoticeVersion(version="2026-07", effective_on=dt.date(2026, 7, 1), text_kk="kk", text_ru="ru",
                                 text_en="en"))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_given_then_resent_then_withdrawn(client, token):
    person = make_client(email="dana@mail.kz", consents=())
    event = {"event_id": "evt-1", "email": "Dana@mail.kz", "purpose": "statistics", "kind": "given",
             "notice_version": "2026-07"}
    first = client.post(URL, json=event, headers=token)
    assert first.status_code == 201 and first.get_json()["status"] == "applied"
    again = client.post(URL, json=event, headers=token)
    assert again.status_code == 200 and again.get_json() == {"status": "duplicate",
                                                               "consent_id": first.get_json()["consent_id"]}
    consent = Consent.query.filter_by(client_id=person.id, purpose="statistics").one()
    assert consent.notice_version.version == "2026-07" and consent.channel == "booking_site"
    withdrawn = client.post(URL, json={"event_id": "evt-2", "client_id": person.id, "purpose": "statistics",
                                       "kind": "withdrawn"}, headers=token)
    assert withdrawn.status_code == 201
    # Resending the first event after the withdrawal must not give the consent again.
    assert client.post(URL, json=event, headers=token).status_code == 200
    db.session.expire_all()
    assert consents.current_consents(person)["statistics"] is None
    assert ConsentIntakeEvent.query.count() == 2
    events = consents.timeline(person)
    assert {e["notice_version"] for e in events} == {"2026-07"}


@pytest.mark.parametrize("payload,status,code", [
    ({"event_id": "e", "email": "nobody@mail.kz", "purpose": "marketing", "kind": "given",
      "notice_version": "2026-07"}, 422, "unknown_client"),
    ({"event_id": "e", "client_id": "1", "purpose": "marketing", "kind": "given"}, 400, "invalid_field"),
    ({"event_id": "e", "client_id": 1, "purpose": "marketing", "kind": "given", "notice_version": "1999"},
     400, "unknown_notice"),
    ({"event_id": "e", "client_id": 1, "purpose": "everything", "kind": "given", "notice_version": "2026-07"},
     400, "invalid_purpose"),
    ({"event_id": "x" * 65, "client_id": 1, "purpose": "marketing", "kind": "given"}, 400, "invalid_event_id"),
    ({"event_id": "e", "client_id": 1, "purpose": "marketing", "kind": "given", "extra": 1}, 400, "unknown_field"),
])
def test_bad_events_change_nothing(client, token, payload, status, code):
    make_client(consents=())
    response = client.post(URL, json=payload, headers=token)
    assert (response.status_code, response.get_json()["error"]) == (status, code)
    assert Consent.query.count() == 0 and ConsentIntakeEvent.query.count() == 0


def test_no_token_no_entry(client):
    assert client.post(URL, json={}).status_code == 401
