"""Erasure leaves nothing behind inside the back-office (issue 11 §1): the disclosure register, free text typed on
the client's requests, and the erasure's own self-check."""
import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from backoffice import system_notes
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.disclosures import DisclosureGrant
from backoffice.models.requests import PrivacyRequest, RequestEvent
from backoffice.services import erasure
from tests.jobfactories import approved_request, seeded_client, text_hits


def _grant(client, recipient="Aigerim Seitkali (sister)", scope="tickets booked for Aigerim Seitkali"):
    grant = DisclosureGrant(client_id=client.id, recipient=recipient, scope=scope,
                            expires_on=dt.date(2030, 1, 1), created_at=dt.datetime(2026, 3, 1, 9))
    db.session.add(grant)
    db.session.commit()
    return grant


def test_disclosure_register_keeps_the_date_without_any_name(app, make_staff):
    manager = make_staff("manager")
    client, _ = seeded_client("grant", 12)
    grant = _grant(client)
    privacy_request = approved_request(client, "erasure", by=manager)

    erasure.erase_client(privacy_request.id)

    assert text_hits("Aigerim") == []
    row = db.session.get(DisclosureGrant, grant.id)
    assert row is not None and row.created_at == dt.datetime(2026, 3, 1, 9)  # proof of the disclosure stays
    assert row.recipient == erasure.DEPERSONALISED and row.scope == erasure.DEPERSONALISED
    certificate = db.session.get(PrivacyRequest, privacy_request.id).certificate
    assert certificate["depersonalised"]["disclosure_grant"] == 1


def test_free_text_on_the_clients_requests_is_redacted_keeping_who_when_which_step(app, make_staff):
    manager, support = make_staff("manager"), make_staff("support")
    client, _ = seeded_client("notes", 13)
    earlier = approved_request(client, "rectification", by=manager, outcome="Changed surname to Testova-Kim",
                               rejection_reason=None, extension_reason="waiting for ID card 046236862")
    db.session.add(RequestEvent(request_id=earlier.id, actor_id=support.id, action="verify_identity",
                                from_status="received", to_status="identity_verified",
                                comment="ID card …6862, seen in person", at=dt.datetime(2026, 5, 1, 10)))
    privacy_request = approved_request(client, "erasure", by=manager)
    db.session.add(RequestEvent(request_id=privacy_request.id, actor_id=manager.id, action="approve",
                                from_status="awaiting_approval", to_status="approved",
                                comment="Spoke to Zhanar on +7 701 555 12 34; ok"))
    db.session.commit()

    erasure.erase_client(privacy_request.id)

    for fragment in ("6862", "Testova-Kim", "Spoke to Zhanar"):
        assert text_hits(fragment) == [], fragment
    identity = db.session.execute(select(RequestEvent).where(RequestEvent.request_id == earlier.id,
                                                             RequestEvent.action == "verify_identity")).scalar_one()
    assert (identity.actor_id, identity.at, identity.to_status) == (support.id, dt.datetime(2026, 5, 1, 10),
                                                                   "identity_verified")
    assert identity.comment == erasure.REDACTED
    kept = db.session.get(PrivacyRequest, earlier.id)
    assert kept.outcome == erasure.REDACTED and kept.extension_reason == erasure.REDACTED
    done = db.session.get(PrivacyRequest, privacy_request.id)
    assert done.status == "completed" and system_notes.render(done.outcome).startswith("Erased")  # the erasure's own outcome stays
    assert done.certificate["free_text_redacted"] >= 4


def test_certificate_says_verified_with_zero_residual_matches(app, make_staff):
    manager = make_staff("manager")
    client, _ = seeded_client("verified", 14)
    _grant(client)
    privacy_request = approved_request(client, "erasure", by=manager)

    summary = erasure.erase_client(privacy_request.id)

    verification = db.session.get(PrivacyRequest, privacy_request.id).certificate["verification"]
    assert verification["residual_matches"] == 0 and verification["columns_checked"] > 20
    assert verification["identifiers_checked"] >= 6
    assert summary["verification"] == verification
    assert db.session.get(PrivacyRequest, privacy_request.id).certificate["outcome"] == "complete"


def test_an_identifier_left_elsewhere_fails_the_complete_claim_and_raises_an_alert(app, make_staff):
    manager = make_staff("manager")
    client, strings = seeded_client("residual", 15)
    # A second request from the same person that was never matched to the client: erasure does not reach it.
    stray = PrivacyRequest(type="access", status="received", requester_email=client.email,
                           description="please send my data")
    db.session.add(stray)
    db.session.commit()
    privacy_request = approved_request(client, "erasure", by=manager)

    erasure.erase_client(privacy_request.id)

    certificate = db.session.get(PrivacyRequest, privacy_request.id).certificate
    assert certificate["outcome"] == "residual"
    assert certificate["verification"]["residual_columns"] == ["privacy_request.requester_email"]
    assert certificate["verification"]["residual_matches"] == 1
    alert = db.session.execute(select(AuditEvent).where(AuditEvent.action == "erasure.residual_data")).scalar_one()
    assert json.loads(alert.details)["residual_columns"] == ["privacy_request.requester_email"]
    assert strings[1] not in (alert.details or "")


def test_the_alert_and_verification_show_on_the_certificate_page(app, client, make_staff, auth):
    manager = make_staff("manager")
    subject, _ = seeded_client("page", 16)
    db.session.add(PrivacyRequest(type="access", status="received", requester_email=subject.email))
    db.session.commit()
    privacy_request = approved_request(subject, "erasure", by=manager)
    erasure.erase_client(privacy_request.id)
    auth.login_as("manager")
    html = client.get(f"/admin/certificates/{privacy_request.id}/").get_data(as_text=True)
    assert "privacy_request.requester_email" in html and "alert-danger" in html


def test_on_postgresql_the_whole_table_search_is_answered_by_trigram_indexes(app, make_staff):
    """The check after every erasure searches four whole tables; each of its searches must use the trigram indexes
    (EXPLAINed on the erasure's own connection, right after it ran, with the check's own settings)."""
    from sqlalchemy import event

    from backoffice.models.text_search import FREE_TEXT_COLUMNS, index_name
    from tests.conftest import is_postgres

    if not is_postgres():
        pytest.skip("trigram indexes are PostgreSQL's (SQLite searches in-process)")
    client, _strings = seeded_client("trgm", 71)
    privacy_request = approved_request(client, "erasure", by=make_staff("manager"))
    plans = {}

    def explain(connection, cursor, statement, parameters, context, executemany):
        if re.search(r"\sI?LIKE\s", statement) and not statement.lstrip().upper().startswith("EXPLAIN"):
            table = re.search(r"\bFROM\s+(\w+)", statement).group(1)
            cursor.execute("EXPLAIN " + statement, parameters)
            plans[table] = "\n".join(row[0] for row in cursor.fetchall())

    event.listen(db.engine, "after_cursor_execute", explain)
    try:
        erasure.erase_client(privacy_request.id)
    finally:
        event.remove(db.engine, "after_cursor_execute", explain)
    assert set(plans) == set(FREE_TEXT_COLUMNS)
    for table, plan in plans.items():
        assert index_name(table) in plan and "Seq Scan" not in plan, plan  # one index per table


def test_the_whole_table_search_takes_values_literally(app):
    """E-mail addresses hold "_" (and anyone may type "%"): LIKE's wildcards in a value match only themselves."""
    from backoffice.models.text_search import free_text_sql
    from backoffice.services.erasure_check import free_text_match

    literal = PrivacyRequest(type="access", status="received", description="write to jo_hn%x/y@mail.kz please")
    lookalike = PrivacyRequest(type="access", status="received", description="write to joXhnAx/y@mail.kz please")
    db.session.add_all([literal, lookalike])
    db.session.commit()
    found = db.session.execute(select(PrivacyRequest.id).where(
        free_text_match(free_text_sql("privacy_request"), ["jo_hn%x/y@mail.kz"]))).scalars().all()
    assert found == [literal.id]


@pytest.mark.parametrize("name, typed", [
    (None, "e-mail"),  # ASCII: ILIKE on PostgreSQL, SQLite's LIKE folds it itself
    ("Айгерім Сұлтанова", "name"),  # SQLite's LIKE folds ASCII only: searched in capitals too
], ids=["ascii-email", "cyrillic-name"])
def test_an_identifier_in_other_letters_case_is_found(app, make_staff, name, typed):
    """Someone typed the client's e-mail or name in capitals: the whole-table search folds case."""
    client, _strings = seeded_client("upper", 16)
    if name:
        client.full_name = name
    written = (client.email if typed == "e-mail" else client.full_name).upper()
    stray = PrivacyRequest(type="access", status="received", description=f"from {written} by phone")
    db.session.add(stray)
    db.session.commit()
    privacy_request = approved_request(client, "erasure", by=make_staff("manager"))

    erasure.erase_client(privacy_request.id)

    certificate = db.session.get(PrivacyRequest, privacy_request.id).certificate
    assert certificate["outcome"] == "residual"
    assert certificate["verification"]["residual_columns"] == ["privacy_request.description"]


def test_two_subjects_of_one_client_each_have_the_clients_linked_rows_checked(app):
    """Two requests of one client in one batch: a row linked to that client is checked for both subjects."""
    from backoffice.services.erasure_check import Identifiers, find_residuals_of_many

    client, _strings = seeded_client("twice", 17)
    today = erasure.local_today()
    (first, second), _checked = find_residuals_of_many(
        [(client.id, Identifiers({client.email})), (client.id, Identifiers({"not-in-any-row-0000"}))], today)
    assert first.get("client.email") == 1 and "client.email" not in second
