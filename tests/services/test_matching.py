"""Which client a request concerns, and duplicates (services/matching)."""
import pytest

from backoffice.models.requests import ACCESS, CANCELLED, ERASURE
from backoffice.services import intake, lifecycle, matching
from backoffice.services.steps import take_step
from tests.factories import make_client, valid_iin


@pytest.mark.parametrize("how", ["email", "phone", "iin", "pnr"])
def test_requests_are_matched_by_email_phone_iin_or_pnr(app, team, how):
    client = make_client(email="dana@mail.kz", phone="+7 701 555 12 34")
    make_client(email="other@mail.kz", phone="+7 702 555 00 00", iin=valid_iin(500))
    kwargs = {
        "email": {"requester_email": "DANA@mail.kz"}, "phone": {"requester_phone": "8 701 555 1234"},
        "iin": {"identifier": client.iin}, "pnr": {"identifier": client.bookings[0].pnr.lower()},
    }[how]
    req = intake.create_request(type=ACCESS, by=team.support, **kwargs)
    assert req.client_id == client.id


def test_unmatched_request_can_be_linked_later(app, team):
    req = intake.create_request(type=ACCESS, by=team.support, requester_email="nobody@mail.kz")
    assert req.client_id is None and matching.find_candidates(req) == []
    client = make_client()
    take_step(req, "match_client", team.support, client=client)
    assert req.client_id == client.id
    with pytest.raises(lifecycle.IllegalTransition):
        take_step(req, "match_client", team.support, client=client)


def test_duplicates_are_flagged_and_merged(app, team):
    client = make_client()
    first = intake.create_request(type=ERASURE, by=team.support, client=client)
    second = intake.create_request(type=ERASURE, by=team.support, client=client)
    intake.create_request(type=ACCESS, by=team.support, client=client)
    assert matching.find_duplicates(second) == [first]
    with pytest.raises(lifecycle.InvalidInput):
        take_step(second, "merge_duplicate", team.support, into=second)
    take_step(second, "merge_duplicate", team.support, into=first)
    assert (second.status, second.duplicate_of_id) == (CANCELLED, first.id)
    assert matching.find_duplicates(first) == []
    assert "duplicate_merged" in [e.action for e in first.events]
