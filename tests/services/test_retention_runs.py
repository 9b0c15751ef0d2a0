"""The daily retention run (issue 15): exactly the rows past their period, in batches; reruns and dry runs change
nothing; blocked clients and unflown tickets are kept."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from backoffice.extensions import db
from backoffice.models import AuditEvent, Booking, Communication, PrivacyRequest, RetentionRule, RetentionRun
from backoffice.models.clients import BLOCKED
from backoffice.services import retention_runs
from backoffice.services.erasure import DEPERSONALISED
from tests.factories import make_client

TODAY = dt.date(2026, 6, 15)
BOOKING_CUTOFF = dt.datetime(2021, 6, 15)  # 5 years before TODAY, midnight
COMM_CUTOFF = dt.datetime(2023, 6, 15)  # 3 years
N = 100_000


def _offset(i):
    """A spread of seconds around the cutoff, about half of them before it (deterministic)."""
    return (i * 7919) % 200_001 - 100_000


def _seed_bookings(client_ids):
    rows = [{"pnr": f"P{i:05d}"[-6:], "origin": "ALA", "destination": "NQZ", "flight_date": dt.date(2021, 1, 1),
             "passenger_name": "x", "document_number": "N1", "amount": Decimal("1.00"), "currency": "KZT",
             "issued_at": BOOKING_CUTOFF + dt.timedelta(seconds=_offset(i)), "source": "service_use",
             "client_id": client_ids[(i // 1000) % len(client_ids)] if i % 1000 == 0 else None}
            for i in range(1, N + 1)]
    for start in range(0, N, 20_000):
        db.session.execute(insert(Booking), rows[start:start + 20_000])
    db.session.commit()
    return sum(1 for row in rows if row["issued_at"] < BOOKING_CUTOFF and row["client_id"] != client_ids[0])


def _count(model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_exactly_the_rows_past_their_period_in_batches_and_a_second_run_changes_nothing(app):
    blocked = make_client(bookings=0, communications=0, status=BLOCKED)
    active = make_client(bookings=0, communications=0)
    # Blocked client first: every 1000th row of theirs stays (art. 1(3)); the active client's old ones go.
    expected = _seed_bookings([blocked.id, active.id])
    boundary = [
        ("at the cutoff", BOOKING_CUTOFF, False), ("a second before", BOOKING_CUTOFF - dt.timedelta(seconds=1), True),
        ("the day before", BOOKING_CUTOFF - dt.timedelta(days=1), True),
        ("the day after", BOOKING_CUTOFF + dt.timedelta(days=1), False),
    ]
    for name, issued_at, _past in boundary:
        db.session.add(Booking(pnr="BOUND1", origin="ALA", destination="TSE", flight_date=dt.date(2021, 1, 2),
                               passenger_name=name, amount=Decimal("1"), issued_at=issued_at))
    # An old booking for a flight not yet flown (art. 8(2)) stays.
    db.session.add(Booking(pnr="UNFLWN", origin="ALA", destination="TSE", flight_date=TODAY,
                           passenger_name="u", amount=Decimal("1"), issued_at=BOOKING_CUTOFF - dt.timedelta(days=9)))
    db.session.add_all([
        Communication(client_id=active.id, subject="old", sent_at=COMM_CUTOFF - dt.timedelta(seconds=1)),
        Communication(client_id=active.id, subject="edge", sent_at=COMM_CUTOFF),
        Communication(client_id=blocked.id, subject="blocked", sent_at=COMM_CUTOFF - dt.timedelta(days=400)),
    ])
    old_request = PrivacyRequest(type="access", status="completed", client_id=active.id, requester_name="R",
                                 requester_email="r@mail.kz", received_at=dt.datetime(2020, 1, 1),
                                 completed_at=dt.datetime(2021, 6, 14, 23, 59), payload={"a": "b"})
    open_request = PrivacyRequest(type="access", status="received", client_id=active.id, requester_name="R",
                                  received_at=dt.datetime(2020, 1, 1))
    recent_request = PrivacyRequest(type="access", status="completed", client_id=active.id, requester_name="R",
                                    received_at=dt.datetime(2021, 6, 1), completed_at=dt.datetime(2021, 6, 15))
    db.session.add_all([old_request, open_request, recent_request])
    db.session.commit()
    expected_bookings = expected + 2
    total_before = _count(Booking)

    dry = retention_runs.run(dry_run=True, today=TODAY, batch_size=7000)
    assert _count(Booking) == total_before
    assert {i["record_type"]: i["rows"] for i in dry.report} == {
        "booking": expected_bookings, "communication": 1, "privacy_request": 1}

    first = retention_runs.run(today=TODAY, batch_size=7000)
    rows = {i["record_type"]: i for i in first.report}
    assert rows["booking"]["rows"] == expected_bookings
    assert rows["booking"]["batches"] >= expected_bookings // 7000
    assert _count(Booking) == total_before - expected_bookings
    # What is left: nothing past the cutoff except the blocked client's and the unflown ticket.
    assert _count(Booking, Booking.issued_at < BOOKING_CUTOFF, Booking.client_id.is_(None),
                  Booking.pnr != "UNFLWN") == 0
    assert _count(Booking, Booking.client_id == blocked.id) == N // 1000 // 2
    assert {b.passenger_name for b in Booking.query.filter_by(pnr="BOUND1")} == {"at the cutoff", "the day after"}
    assert [c.subject for c in Communication.query.order_by(Communication.id)] == ["edge", "blocked"]
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, old_request.id).requester_name is None
    assert db.session.get(PrivacyRequest, old_request.id).payload is None
    assert db.session.get(PrivacyRequest, open_request.id).requester_name == "R"
    assert db.session.get(PrivacyRequest, recent_request.id).requester_name == "R"

    second = retention_runs.run(today=TODAY, batch_size=7000)
    assert second.total_rows == 0
    assert _count(Booking) == total_before - expected_bookings
    runs = db.session.execute(select(RetentionRun).order_by(RetentionRun.id)).scalars().all()
    assert [r.dry_run for r in runs] == [True, False, False]
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "retention.run")).scalars().all()
    assert len(events) == 3
    assert "r@mail.kz" not in str(first.report)


def test_rules_are_editable_and_a_rule_without_limit_is_not_applied(app):
    from backoffice.services.retention import ensure_default_rules

    ensure_default_rules()
    client = make_client(bookings=0, communications=0)
    db.session.add(Communication(client_id=client.id, subject="old", sent_at=dt.datetime(2020, 1, 1)))
    rule = RetentionRule.query.filter_by(record_type="communication").one()
    rule.keep_years = None
    db.session.commit()
    run = retention_runs.run(today=TODAY)
    assert "communication" not in {i["record_type"] for i in run.report}
    assert _count(Communication) == 1
    rule = RetentionRule.query.filter_by(record_type="communication").one()
    rule.keep_years = 10
    db.session.commit()
    assert retention_runs.run(today=TODAY).total_rows == 0
    rule = RetentionRule.query.filter_by(record_type="communication").one()
    rule.keep_years = 1
    db.session.commit()
    assert {i["record_type"]: i["rows"] for i in retention_runs.run(today=TODAY).report}["communication"] == 1


@pytest.mark.parametrize("dry", [True, False])
def test_periodic_cli_once(app, dry):
    make_client(bookings=0, communications=0)
    db.session.add(Communication(client_id=1, subject="old", sent_at=dt.datetime(2000, 1, 1)))
    db.session.commit()
    runner = app.test_cli_runner()
    args = ["periodic", "--once"] + (["--dry-run"] if dry else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "retention: retention run #1 " + ("would change 1" if dry else "changed 1") in result.output
    assert ("expire-grants: skipped (dry run)" if dry else "expire-grants: {'expired': 0}") in result.output
    db.session.expire_all()
    assert _count(Communication) == (1 if dry else 0)
