"""Erasure (policy 5.2, 5.3): every personal datum goes, retained bookings keep amounts and dates, idempotent."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.identifiers import normalise_email
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import ERASED, Client
from backoffice.models.jobs import ExportPackage
from backoffice.models.optouts import MarketingOptOut
from backoffice.models.records import Booking
from backoffice.models.requests import COMPLETED, EXECUTING, FAILED, PrivacyRequest, RequestEvent
from backoffice.services import erasure, execution
from backoffice.services.optouts import address_hash as keyed_hash
from tests.jobfactories import approved_request, seeded_client, text_hits


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def _request_for(client, manager, tag):
    return approved_request(client, "erasure", by=manager, requester_name=f"Requester {tag}",
                            requester_email=f"req.{tag}@mail.kz", requester_phone="+7 705 111 22 33",
                            description=f"Please erase me, {tag}", payload={"note": f"payload-{tag}"})


def test_erasure_removes_every_seeded_personal_datum_and_keeps_retained_amounts(app, manager, tmp_path):
    client, strings = seeded_client("gone", 11)
    other, other_strings = seeded_client("kept", 22, phone="+7 702 444 55 66")
    privacy_request = _request_for(client, manager, strings[-1])
    strings += [f"Requester {strings[-1]}", f"req.{strings[-1]}@mail.kz", "+7 705 111 22 33", f"payload-{strings[-1]}"]
    export_file = tmp_path / "exports" / "old.zip"
    export_file.parent.mkdir(parents=True, exist_ok=True)
    export_file.write_bytes(b"zip")
    access = approved_request(client, "access", by=manager)
    db.session.add(ExportPackage(request_id=access.id, path=str(export_file), sha256="0" * 64, size=3,
                                 expires_at=dt.datetime(2999, 1, 1)))
    db.session.commit()
    retained_before = db.session.execute(
        select(Booking.id, Booking.amount, Booking.flight_date, Booking.issued_at)
        .where(Booking.client_id == client.id, Booking.pnr.like("R%"))).one()

    summary = erasure.erase_client(privacy_request.id, job_id="job-1")

    for value in strings:
        assert text_hits(value) == [], value
    for value in other_strings:
        assert text_hits(value), value  # the other client is untouched
    tombstone = db.session.get(Client, client.id)
    assert tombstone.status == ERASED and tombstone.date_of_birth is None and tombstone.erased_at is not None
    assert tombstone.erasure_request_id == privacy_request.id
    retained = db.session.get(Booking, retained_before.id)
    assert (retained.amount, retained.flight_date, retained.issued_at) == tuple(retained_before[1:])
    assert retained.amount == Decimal("45000.00") and retained.depersonalised_at is not None
    assert retained.document_number is None and retained.passenger_name == erasure.DEPERSONALISED
    assert not export_file.exists()
    assert summary["deleted"] == {"booking": 1, "client_account": 1, "communication": 1, "consent": 2,
                                  "export_package": 1}
    done = db.session.get(PrivacyRequest, privacy_request.id)
    assert done.status == COMPLETED
    assert [e.to_status for e in db.session.execute(select(RequestEvent).where(
        RequestEvent.request_id == done.id).order_by(RequestEvent.id)).scalars()] == [EXECUTING, COMPLETED]
    certificate = done.certificate
    assert certificate["depersonalised"]["booking"] == 1 and certificate["deleted"]["booking"] == 1
    assert certificate["job_id"] == "job-1" and certificate["approved_by_staff_id"] == manager.id
    assert certificate["outcome"] == "complete" and certificate["started_at"] <= certificate["finished_at"]
    assert {rule["record_type"] for rule in certificate["rules_applied"]} >= {"booking", "communication"}


def test_second_run_is_a_noop_that_succeeds(app, manager):
    client, _ = seeded_client("twice", 33)
    privacy_request = _request_for(client, manager, "twice")
    erasure.erase_client(privacy_request.id)
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    certificate = db.session.get(PrivacyRequest, privacy_request.id).certificate

    again = erasure.erase_client(privacy_request.id)

    assert again["noop"] is True
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == events
    assert db.session.get(PrivacyRequest, privacy_request.id).certificate == certificate


def test_a_second_request_for_an_erased_client_completes_with_nothing_left(app, manager):
    client, _ = seeded_client("again", 34)
    erasure.erase_client(_request_for(client, manager, "a").id)
    second = approved_request(client, "consent_withdrawal", by=manager)
    summary = erasure.erase_client(second.id)
    assert summary["deleted"] == {} and summary["depersonalised"] == {}
    assert db.session.get(PrivacyRequest, second.id).status == COMPLETED


def test_opt_out_survives_as_keyed_hashes_only(app, manager):
    client, strings = seeded_client("optout", 44)
    email, phone = client.email, client.phone_e164
    erasure.erase_client(_request_for(client, manager, "o").id)
    rows = db.session.execute(select(MarketingOptOut)).scalars().all()
    assert rows and all(row.email is None and row.phone is None and row.client_id is None for row in rows)
    # A later import of the same address is matched (and so suppressed) by its keyed hash.
    email_hash, phone_hash = keyed_hash(normalise_email(email)), keyed_hash(phone)
    assert db.session.execute(select(func.count()).select_from(MarketingOptOut).where(
        MarketingOptOut.email_hash == email_hash, MarketingOptOut.removed_at.is_(None))).scalar() >= 1
    assert db.session.execute(select(func.count()).select_from(MarketingOptOut).where(
        MarketingOptOut.phone_hash == phone_hash)).scalar() >= 1


def test_withdrawn_marketing_consent_alone_creates_a_hash_only_opt_out(app, manager):
    from backoffice.models.consent import Consent
    from backoffice.models.base import utcnow

    client, _ = seeded_client("consent", 45, opted_out=False)
    db.session.execute(Consent.__table__.update().where(Consent.client_id == client.id, Consent.purpose == "marketing")
                       .values(withdrawn_at=utcnow()))
    db.session.commit()
    email = client.email
    erasure.erase_client(_request_for(client, manager, "c").id)
    row = db.session.execute(select(MarketingOptOut)).scalar_one()
    assert row.email is None and row.email_hash == keyed_hash(normalise_email(email))


def test_client_who_never_opted_out_leaves_no_hash(app, manager):
    client, _ = seeded_client("noopt", 46, opted_out=False)
    erasure.erase_client(_request_for(client, manager, "n").id)
    assert db.session.execute(select(func.count()).select_from(MarketingOptOut)).scalar() == 0


def test_blocked_client_is_refused_and_untouched(app, manager):
    client, strings = seeded_client("blocked", 55)
    client.status = "blocked"
    db.session.commit()
    privacy_request = _request_for(client, manager, "b")
    with pytest.raises(erasure.ErasureRefused) as refused:
        erasure.erase_client(privacy_request.id)
    assert "1(3)" in str(refused.value)
    assert text_hits(strings[0]) and text_hits(strings[1])
    assert db.session.get(PrivacyRequest, privacy_request.id).status == "approved"
    assert execution.mark_failed(privacy_request.id, str(refused.value))
    assert db.session.get(PrivacyRequest, privacy_request.id).status == FAILED


def test_unflown_ticket_is_kept_and_the_request_completes_as_partial(app, manager):
    client, strings = seeded_client("flying", 66, unflown=True)
    privacy_request = approved_request(client, "consent_withdrawal", by=manager)
    summary = erasure.erase_client(privacy_request.id)
    assert summary["outcome"] == "partial"
    kept = db.session.execute(select(Booking).where(Booking.pnr.like("U%"))).scalar_one()
    assert kept.passenger_name == strings[0] and kept.client_id == client.id
    done = db.session.get(PrivacyRequest, privacy_request.id)
    assert done.status == COMPLETED and "8(2)" in system_notes.render(done.outcome)
    assert done.certificate["exceptions"] == [{"record_type": "booking", "reason": "unflown_ticket", "count": 1,
                                               "legal_reference": erasure.ART_8_2}]
    assert text_hits(strings[1]) == []  # the e-mail went all the same


def test_retention_rule_row_overrides_the_default(app, manager):
    from backoffice.models.retention import RetentionRule

    db.session.add(RetentionRule(record_type="booking", period_years=0, legal_reference="test", action="delete"))
    db.session.commit()
    client, _ = seeded_client("norule", 77)
    summary = erasure.erase_client(_request_for(client, manager, "r").id)
    assert summary["deleted"]["booking"] == 2 and "booking" not in summary["depersonalised"]


def test_certificate_carries_no_personal_data(app, manager):
    client, strings = seeded_client("cert", 88)
    privacy_request = _request_for(client, manager, "x")
    erasure.erase_client(privacy_request.id)
    text = str(db.session.get(PrivacyRequest, privacy_request.id).certificate)
    assert not any(value in text for value in strings)


def test_erasing_thousands_of_records_is_set_based(app, manager):
    """Statement count does not grow with the number of records (no row-by-row ORM loop)."""
    from sqlalchemy import event

    from backoffice.models.records import Communication

    client, _ = seeded_client("bulk", 99)
    db.session.add_all([Communication(client_id=client.id, subject="s", body="b") for _ in range(2000)])
    db.session.commit()
    privacy_request = _request_for(client, manager, "bulk")
    statements = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        summary = erasure.erase_client(privacy_request.id)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert summary["deleted"]["communication"] == 2001
    # A fixed budget: the erasure's own statements, the data-map and mail-evidence steps and the self-check after the
    # commit (one query per text column). 2,001 rows must not add a statement each.
    assert len(statements) < 120
