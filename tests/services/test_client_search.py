"""Client search routes what staff typed to indexed lookups (issue 7); these tests check it finds the right people."""
from backoffice.extensions import db
from backoffice.models.clients import Client
from backoffice.services.clients import find_clients
from tests.factories import make_client, valid_iin


def _ids(term):
    return sorted(c.id for c in find_clients(term))


def test_letters_only_pnr_finds_the_booking_holder_and_names_starting_with_it(app):
    holder = make_client(full_name="Серікбаев Ерлан", bookings=1, iin=valid_iin(1))
    holder.bookings[0].pnr = "KXHPQM"
    namesake = make_client(full_name="Kxhpqmova Aigerim", email="a@mail.kz", iin=valid_iin(2))
    make_client(full_name="Ахметов Нұрлан", email="b@mail.kz", iin=valid_iin(3))
    db.session.commit()
    assert _ids("kxhpqm") == sorted([holder.id, namesake.id])


def test_pnr_with_digits_searches_bookings_only(app):
    holder = make_client(full_name="Оспанов Арман", iin=valid_iin(4))
    holder.bookings[0].pnr = "U4MK28"
    db.session.commit()
    assert _ids("u4mk28") == [holder.id]


def test_phone_typed_with_the_trunk_prefix_finds_the_client(app):
    client = make_client(full_name="Жұмабаев Санжар", phone="+7 701 555 12 34", iin=valid_iin(5))
    assert _ids("8 701 555 12 34") == [client.id]


def test_erased_clients_are_not_found_by_name(app):
    make_client(full_name="Бекова Динара", iin=valid_iin(6))
    erased = Client(full_name=None, name_key=None, status="erased")
    db.session.add(erased)
    db.session.commit()
    assert erased.id not in _ids("бекова")
