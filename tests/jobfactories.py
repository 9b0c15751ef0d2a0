"""Factories for the job tests: approved requests and a client whose every personal datum is a unique string."""
import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import String, Text, cast, func, select
from sqlalchemy.types import JSON

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.optouts import MarketingOptOut
from backoffice.models.records import Booking
from backoffice.models.requests import APPROVED, PrivacyRequest
from tests.factories import make_client, valid_iin


def approved_request(client, type_="erasure", by=None, **fields):
    """A request already approved by a manager (the lifecycle is another module's job)."""
    privacy_request = PrivacyRequest(type=type_, status=APPROVED, client_id=client.id if client else None,
                                     approved_by_id=by.id if by else None, created_by_id=by.id if by else None,
                                     approved_at=utcnow(), **fields)
    db.session.add(privacy_request)
    db.session.commit()
    return privacy_request


def seeded_client(tag, iin_seed, today=None, opted_out=True, unflown=False, phone="+7 701 555 12 34"):
    """A client with records of every kind; returns (client, the personal-data strings seeded for them)."""
    today = today or dt.date.today()
    tag = f"{tag}{uuid.uuid4().hex[:6]}"
    name = f"Zhanar Testova{tag}"
    email = f"zhanar.{tag}@mail.kz"
    client = make_client(full_name=name, email=email, phone=phone, iin=valid_iin(iin_seed), bookings=0,
                         communications=0, consents=("identification", "marketing"),
                         date_of_birth=dt.date(1985, 1, 1), position=f"position-{tag}")
    client.bookings.append(Booking(pnr=f"R{uuid.uuid4().hex[:5].upper()}", origin="ALA", destination="NQZ",
                                   flight_date=today - dt.timedelta(days=300), passenger_name=name,
                                   document_number=f"DOC{tag}R"[:20], amount=Decimal("45000.00"),
                                   issued_at=dt.datetime.combine(today - dt.timedelta(days=320), dt.time(12))))
    client.bookings.append(Booking(pnr=f"O{uuid.uuid4().hex[:5].upper()}", origin="ALA", destination="CIT",
                                   flight_date=today - dt.timedelta(days=8 * 365), passenger_name=name,
                                   document_number=f"DOC{tag}O"[:20], amount=Decimal("21000.00"),
                                   issued_at=dt.datetime.combine(today - dt.timedelta(days=8 * 365 + 10),
                                                                 dt.time(12))))
    if unflown:
        client.bookings.append(Booking(pnr=f"U{uuid.uuid4().hex[:5].upper()}", origin="NQZ", destination="ALA",
                                       flight_date=today + dt.timedelta(days=30), passenger_name=name,
                                       document_number=f"DOC{tag}U"[:20], amount=Decimal("38000.00")))
    from backoffice.models.records import Communication

    client.communications.append(Communication(subject=f"subject-{tag}", body=f"Hello, I am {name}, body-{tag}"))
    if opted_out:
        db.session.add(MarketingOptOut(email=email, phone=client.phone_e164, client_id=client.id,
                                       reason=f"reason-{tag}", source="privacy_request"))
    db.session.commit()
    strings = [name, email, client.phone_e164, phone, client.iin, f"DOC{tag}R"[:20], f"DOC{tag}O"[:20],
               f"subject-{tag}", f"body-{tag}", f"position-{tag}", f"reason-{tag}", tag]
    return client, strings


def text_hits(value):
    """Every (table, column) whose text contains `value`: searches every text-like column of every table."""
    hits = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, (String, Text, JSON)):
                continue
            found = db.session.execute(
                select(func.count()).select_from(table).where(cast(column, Text).contains(value, autoescape=True))
            ).scalar()
            if found:
                hits.append(f"{table.name}.{column.name}")
    return hits
