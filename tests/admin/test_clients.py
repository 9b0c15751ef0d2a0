"""Client records: indexed search by every identifier staff type, and an audited full-record view (policy 4.3, 5.4)."""
import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services.clients import classify_term
from tests.factories import make_client


@pytest.fixture
def aigul(app):
    return make_client(full_name="Серікбаева Айгүл", email="Aigul.S@Mail.kz", phone="+7 701 123 45 67")


@pytest.fixture
def other(app):
    return make_client(full_name="Иванов Сергей", email="sergey@inbox.kz", phone="+7 777 765 43 21")


def _ids_in_list(client, term):
    page = client.post("/admin/clients/search/", data={"search": term}, follow_redirects=True).get_data(as_text=True)
    return page


@pytest.mark.parametrize("typed", ["aigul.s@mail.kz", "AIGUL.S@MAIL.KZ", "8 701 123 45 67", "+7 (701) 123-45-67",
                                   "87011234567", "серік", "Серікбаева Ай"])
def test_search_finds_the_client_however_it_is_typed(client, login_as, aigul, other, typed):
    login_as("support")
    page = _ids_in_list(client, typed)
    assert "Серікбаева Айгүл" in page
    assert "Иванов Сергей" not in page


def test_search_by_iin_and_pnr(client, login_as, aigul, other):
    login_as("manager")
    assert "Серікбаева Айгүл" in _ids_in_list(client, aigul.iin)
    pnr = aigul.bookings[0].pnr
    page = _ids_in_list(client, pnr)
    assert "Серікбаева Айгүл" in page and "Иванов Сергей" not in page


def test_search_terms_route_to_indexed_columns():
    assert classify_term("A@B.KZ")[0] == "email"
    assert classify_term("8 701 123 45 67") == ("phone", "+77011234567")
    assert classify_term("Ivanov")[0] == "pnr_or_name"
    assert classify_term("Iv")[0] == "name"


def test_full_record_view_is_audited_once_and_shows_every_record(client, login_as, aigul):
    user = login_as("supervisor")
    page = client.get(f"/admin/clients/details/?id={aigul.id}").get_data(as_text=True)
    assert aigul.bookings[0].pnr in page and "Message from" in page and aigul.iin in page
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "client.read_full_record")).scalars().all()
    assert [(e.object_id, e.actor_id) for e in events] == [(str(aigul.id), user.id)]
    assert aigul.email.lower() not in (events[0].details or "")


def test_list_masks_the_iin(client, login_as, aigul):
    login_as("support")
    page = client.get("/admin/clients/").get_data(as_text=True)
    assert aigul.iin not in page and aigul.iin[-4:] in page


@pytest.mark.parametrize("bad_id", ["999999", "abc", "", "1;DROP"])
def test_unknown_or_malformed_ids_never_500(client, login_as, bad_id):
    login_as("support")
    response = client.get(f"/admin/clients/details/?id={bad_id}")
    assert response.status_code == 302


def test_nobody_edits_clients_directly(client, login_as, aigul):
    for role in ("support", "manager", "supervisor"):
        login_as(role)
        assert client.post(f"/admin/clients/edit/?id={aigul.id}", data={"full_name": "X"}).status_code == 403
        assert client.post("/admin/clients/delete/", data={"id": aigul.id}).status_code == 403
        client.post("/logout")
