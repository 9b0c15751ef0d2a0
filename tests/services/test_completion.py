"""What completing a request does, per type (services/completion), and the jobs approval hands it to."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.consent import Consent
from backoffice.models.disclosures import DisclosureGrant
from backoffice.models.requests import (
    ACCESS, APPROVED, BLOCKING, COMPLETED, CONSENT_WITHDRAWAL, ERASURE, IN_PROGRESS, RECTIFICATION,
    THIRD_PARTY_GRANT, UNBLOCKING,
)
from backoffice.services import execution, intake, lifecycle
from backoffice.services.steps import take_step
from tests.factories import make_client, valid_iin
from tests.services.requestkit import new_request, to_in_progress


def test_rectification_applies_validated_changes_and_audits_field_names_only(app, team):
    client = make_client(phone="+7 701 555 12 34")
    new_iin = valid_iin(77)
    req = intake.create_request(type=RECTIFICATION, by=team.support, client=client, payload={"changes": {
        "email": " New.Address@Mail.KZ ", "phone": "8 (702) 123-45-67", "iin": new_iin, "full_name": "Ахметова  Дана"}})
    to_in_progress(req, team.support)
    take_step(req, "complete", team.support)
    db.session.refresh(client)
    assert (client.email, client.email_norm) == ("new.address@mail.kz", "new.address@mail.kz")
    assert client.phone_e164 == "+77021234567" and client.iin == new_iin
    assert client.name_key == "ахметова дана"
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "request.complete")).scalar_one()
    details = json.loads(event.details)
    assert details["fields"] == ["email", "full_name", "iin", "phone"]
    for value in ("new.address", "7021234567", new_iin, "Дана"):
        assert value not in (event.details or "")


def test_blocking_after_approval_blocks_the_client_until_a_date(app, team):
    req = new_request(BLOCKING, team.support)
    to_in_progress(req, team.support)
    take_step(req, "submit_for_approval", team.support)
    take_step(req, "approve", team.manager, comment="Processing conditions were breached")
    take_step(req, "complete", team.support)
    assert (req.client.status, req.client.blocked_until) == ("blocked", dt.date(2099, 1, 31))
    assert req.status == COMPLETED


def test_unblocking_lifts_the_block_and_refuses_an_unblocked_client(app, team):
    req = new_request(UNBLOCKING, team.support)
    to_in_progress(req, team.support)
    take_step(req, "complete", team.support)
    assert req.client.status == "active"
    other = new_request(UNBLOCKING, team.support, client=make_client())
    to_in_progress(other, team.support)
    with pytest.raises(lifecycle.IllegalTransition):
        take_step(other, "complete", team.support)
    assert other.status == IN_PROGRESS


def test_erasure_of_a_blocked_client_is_refused_with_an_explanation(app, team, queue):
    client = make_client(status="blocked")
    req = new_request(ERASURE, team.support, client=client)
    to_in_progress(req, team.support)
    assert "submit_for_approval" not in lifecycle.legal_next_steps(req, team.support)
    with pytest.raises(lifecycle.IllegalTransition) as error:
        take_step(req, "submit_for_approval", team.support)
    assert "blocked" in str(error.value)
    assert queue.calls == []


def test_erasure_queues_the_erasure_job_after_approval_and_stays_approved(app, team, queue):
    req = new_request(ERASURE, team.support)
    to_in_progress(req, team.support)
    take_step(req, "submit_for_approval", team.support)
    assert queue.calls == []
    take_step(req, "approve", team.manager, comment="No retention obligation")
    assert [(f, ids) for f, ids, _ in queue.calls] == [("backoffice.jobs.erasure.erase_client", (req.id,))]
    db.session.refresh(req)
    assert req.status == APPROVED and req.job_id == queue.calls[0][2]


def test_consent_withdrawal_withdraws_consents_then_queues_erasure(app, team, queue):
    client = make_client(consents=("identification", "marketing", "statistics"))
    req = new_request(CONSENT_WITHDRAWAL, team.support, client=client)
    assert req.due_at is None  # counted from approval
    to_in_progress(req, team.support)
    take_step(req, "submit_for_approval", team.support)
    take_step(req, "approve", team.manager, comment="Marker phrase present; no open bookings")
    consents = db.session.execute(select(Consent).where(Consent.client_id == client.id)).scalars().all()
    assert all(c.withdrawn_at is not None and c.withdrawn_source == "privacy_request" for c in consents)
    assert queue.calls[0][:2] == ("backoffice.jobs.erasure.erase_client", (req.id,))
    assert req.due_at is not None and req.status == APPROVED


def test_access_needs_no_approval_and_queues_the_export(app, team, queue):
    req = new_request(ACCESS, team.support)
    take_step(req, "verify_identity", team.support, method="document_seen")
    assert "submit_for_approval" not in lifecycle.legal_next_steps(req, team.support)
    take_step(req, "release", team.support)
    assert queue.calls[0][:2] == ("backoffice.jobs.export.build_export", (req.id,))
    assert req.status == APPROVED
    # What the export job does around its work (services/export.build_export): claim, begin, complete.
    claimed = execution.claim(req.id, (ACCESS,))
    execution.mark_executing(claimed, queue.calls[0][2])
    db.session.commit()
    execution.mark_completed(claimed, "Export sent")
    db.session.commit()
    assert req.status == COMPLETED


def test_third_party_grant_is_recorded_in_the_disclosure_register(app, team):
    req = new_request(THIRD_PARTY_GRANT, team.support)
    to_in_progress(req, team.support)
    take_step(req, "complete", team.support)
    grant = db.session.execute(select(DisclosureGrant)).scalar_one()
    assert (grant.client_id, grant.request_id, grant.recipient, grant.expires_on) == (
        req.client_id, req.id, "Law firm Adilet LLP", dt.date(2099, 12, 31))


@pytest.mark.parametrize("type_", [ERASURE, ACCESS, RECTIFICATION, CONSENT_WITHDRAWAL])
def test_unmatched_request_completes_with_the_reply_recorded(app, team, type_):
    req = new_request(type_, team.support, client=None)
    to_in_progress(req, team.support)
    assert "submit_for_approval" not in lifecycle.legal_next_steps(req, team.support)
    with pytest.raises(lifecycle.InvalidInput):
        take_step(req, "complete", team.support, outcome="")
    take_step(req, "complete", team.support, outcome="We hold no personal data about you.")
    assert (req.status, req.outcome) == (COMPLETED, "We hold no personal data about you.")
