"""Model factories for tests: one call builds a client with records of every kind."""
import datetime as dt
import uuid
from decimal import Decimal

from backoffice.extensions import db
from backoffice.identifiers import name_key, normalise_phone, with_control_digit
from backoffice.models.clients import Client, ClientAccount
from backoffice.models.consent import Consent
from backoffice.models.records import Booking, Communication


def valid_iin(seed=1):
    n = seed
    while True:
        iin = with_control_digit(f"8501013{n % 10000:04d}")
        if iin:
            return iin
        n += 1


def make_client(full_name="Сейтқали Жанар", email=None, phone="+7 701 555 12 34", iin=None, bookings=1,
                communications=1, consents=("identification", "marketing"), flight_date=None, **fields):
    email = email or f"client-{uuid.uuid4().hex[:8]}@mail.kz"
    client = Client(full_name=full_name, name_key=name_key(full_name), email=email, email_norm=email.lower(),
                    phone=phone, phone_e164=normalise_phone(phone) if phone else None,
                    iin=iin or valid_iin(), **fields)
    client.accounts.append(ClientAccount(login=email))
    for i in range(bookings):
        client.bookings.append(Booking(
            pnr=f"T{uuid.uuid4().hex[:5].upper()}", origin="ALA", destination="NQZ",
            flight_date=flight_date or dt.date(2024, 3, 1), passenger_name=full_name,
            document_number=f"N{10000000 + i}", amount=Decimal("45000.00"), currency="KZT"))
    for i in range(communications):
        client.communications.append(Communication(subject=f"Question {i}", body=f"Message from {full_name}"))
    for purpose in consents:
        client.consents.append(Consent(purpose=purpose))
    db.session.add(client)
    db.session.commit()
    return client
