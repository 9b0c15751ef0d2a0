"""The request lifecycle (issue 3): every legal and illegal step for every type, four-eyes, per-type outcomes."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import Client
from backoffice.models.consent import Consent
from backoffice.models.deadlines import DeadlineRule
from backoffice.models.disclosures import DisclosureGrant
from backoffice.models.optouts import MarketingOptOut
from backoffice.models.requests import (
    ACCESS, APPROVED, AWAITING_APPROVAL, BLOCKING, CANCELLED, COMPLETED, CONSENT_WITHDRAWAL, ERASURE, EXECUTING,
    FAILED, IDENTITY_VERIFIED, IN_PROGRESS, MARKETING_OPT_OUT, RECEIVED, RECTIFICATION, REJECTED, REQUEST_TYPES,
    STATUSES, THIRD_PARTY_GRANT, UNBLOCKING, PrivacyRequest, RequestEvent,
)
from backoffice.services import requests as svc
from tests.factories import make_client, valid_iin

PAYLOADS = {
    RECTIFICATION: {"changes": {"position": "Chief accountant"}},
    BLOCKING: {"blocked_until": "2099-01-31"},
    THIRD_PARTY_GRANT: {"recipient": "Law firm Adilet LLP", "scope": "Bookings 2024", "expires_on": "2099-12-31"},
    MARKETING_OPT_OUT: {"channel": "all"},
}

# The lifecycle of issue 3, written out independently of the service's table:
# for each type, the status-changing steps that are legal from each status (client matched).
APPROVAL_JOB = {
    RECEIVED: {"verify_identity", "reject", "cancel"},
    IDENTITY_VERIFIED: {"start", "submit_for_approval", "reject", "cancel"},
    IN_PROGRESS: {"submit_for_approval", "reject", "cancel"},
    AWAITING_APPROVAL: {"approve", "reject", "cancel"},
    APPROVED: {"begin_execution", "fail", "retry"},
    EXECUTING: {"complete", "fail"},
    FAILED: {"retry", "reject"},
}
BLOCKING_STEPS = {**APPROVAL_JOB, APPROVED: {"complete"}, EXECUTING: set(), FAILED: {"reject"}}
ACCESS_STEPS = {
    RECEIVED: {"verify_identity", "reject", "cancel"},
    IDENTITY_VERIFIED: {"start", "release", "reject", "cancel"},
    IN_PROGRESS: {"release", "reject", "cancel"},
    AWAITING_APPROVAL: {"cancel"},
    APPROVED: {"begin_execution", "fail", "retry"},
    EXECUTING: {"complete", "fail"},
    FAILED: {"retry", "reject"},
}
BY_HAND = {
    RECEIVED: {"verify_identity", "reject", "cancel"},
    IDENTITY_VERIFIED: {"start", "reject", "cancel"},
    IN_PROGRESS: {"complete", "reject", "cancel"},
    AWAITING_APPROVAL: {"cancel"},
    APPROVED: set(), EXECUTING: set(), FAILED: {"reject"},
}
OPT_OUT_STEPS = {
    RECEIVED: {"complete", "reject", "cancel"},
    IDENTITY_VERIFIED: {"reject", "cancel"}, IN_PROGRESS: {"reject", "cancel"}, AWAITING_APPROVAL: {"cancel"},
    APPROVED: set(), EXECUTING: set(), FAILED: {"reject"},
}
LEGAL = {
    ERASURE: APPROVAL_JOB, CONSENT_WITHDRAWAL: APPROVAL_JOB, BLOCKING: BLOCKING_STEPS, ACCESS: ACCESS_STEPS,
    RECTIFICATION: BY_HAND, UNBLOCKING: BY_HAND, THIRD_PARTY_GRANT: BY_HAND, MARKETING_OPT_OUT: OPT_OUT_STEPS,
}
STATUS_STEPS = ("verify_identity", "start", "submit_for_approval", "approve", "release", "begin_execution", "complete",
                "fail", "retry", "reject", "cancel")


def new_request(type_, by, client="new", status=None, **fields):
    if client == "new":
        client = make_client(status="blocked" if type_ == UNBLOCKING else "active")
    kwargs = dict(requester_email="requester@mail.kz") if type_ == MARKETING_OPT_OUT and client is None else {}
    if type_ == MARKETING_OPT_OUT:
        # An opt-out completes at once; build it in `received` directly to probe the table.
        req = PrivacyRequest(type=type_, channel="email", status=RECEIVED, client_id=client.id if client else None,
                             created_by_id=by.id, payload=PAYLOADS[type_], requester_email="x@mail.kz")
        db.session.add(req)
        db.session.commit()
    else:
        req = svc.create_request(type=type_, by=by, client=client, payload=PAYLOADS.get(type_), **kwargs)
    if status is not None:
        req.status = status
        if status != RECEIVED:
            req.identity_method, req.identity_verified_by_id = "registered_email", by.id
        for key, value in fields.items():
            setattr(req, key, value)
        db.session.commit()
    return req


def take(action, req, team):
    """Take `action` with the actor the table expects for it (a handler, another manager, or the system)."""
    if action == "verify_identity":
        return svc.verify_identity(req, "document_seen", team.support)
    if action == "start":
        return svc.start(req, team.support)
    if action == "submit_for_approval":
        return svc.submit_for_approval(req, team.support)
    if action == "approve":
        return svc.approve(req, team.manager2, "Checked: no retention obligation")
    if action == "release":
        return svc.release(req, team.support)
    if action == "begin_execution":
        return svc.begin_execution(req, job_id="job-1")
    if action == "complete":
        by = None if req.status == EXECUTING else team.support
        return svc.complete(req, by, outcome="Done" if by is None else None)
    if action == "fail":
        return svc.fail(req, "worker lost")
    if action == "retry":
        return svc.retry(req, team.manager)
    if action == "reject":
        by = team.manager2 if req.status == AWAITING_APPROVAL else team.support
        return svc.reject(req, by, "Identity could not be confirmed")
    if action == "cancel":
        return svc.cancel(req, team.support, "Client withdrew the request")
    raise AssertionError(action)


@pytest.mark.parametrize("type_", REQUEST_TYPES)
def test_every_step_from_every_status_is_legal_exactly_as_the_lifecycle_says(app, team, queue, type_):
    for status in STATUSES:
        for action in STATUS_STEPS:
            req = new_request(type_, team.support, status=status)
            legal = action in LEGAL[type_].get(status, set())
            where = f"{type_}: {action} from {status}"
            if legal:
                before = db.session.execute(
                    select(RequestEvent).where(RequestEvent.request_id == req.id)).scalars().all()
                take(action, req, team)
                events = db.session.execute(
                    select(RequestEvent).where(RequestEvent.request_id == req.id)).scalars().all()
                assert len(events) > len(before), where
                assert events[len(before)].action == action, where
                assert db.session.execute(select(AuditEvent).where(
                    AuditEvent.request_id == req.id, AuditEvent.action == f"request.{action}")).scalar(), where
            else:
                version = req.version
                with pytest.raises(svc.IllegalTransition):
                    take(action, req, team)
                db.session.refresh(req)
                assert (req.status, req.version) == (status, version), where


def test_the_service_offers_exactly_the_legal_steps(app, team):
    req = new_request(ERASURE, team.support)
    assert svc.legal_next_steps(req, team.support)[:3] == ["verify_identity", "reject", "cancel"]
    assert svc.legal_next_steps(req, team.supervisor) == []
    assert svc.legal_next_steps(req, team.admin) == []
    svc.verify_identity(req, "registered_email", team.support)
    svc.submit_for_approval(req, team.support)
    assert "approve" not in svc.legal_next_steps(req, team.support)
    assert "approve" in svc.legal_next_steps(req, team.manager)
    assert "approve" not in svc.legal_next_steps(req, team.supervisor)


def test_illegal_step_message_is_clear(app, team):
    req = new_request(RECTIFICATION, team.support)
    with pytest.raises(svc.IllegalTransition) as error:
        svc.complete(req, team.support)
    assert "not possible" in str(error.value) and "received" in str(error.value)


# --- four-eyes ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("type_", [ERASURE, CONSENT_WITHDRAWAL, BLOCKING])
def test_four_eyes_the_creator_and_every_handler_cannot_approve(app, team, queue, type_):
    creator, verifier, assignee = team.manager, team.manager2, team.support2
    req = new_request(type_, creator)
    svc.verify_identity(req, "phone_callback", verifier)
    # A third manager assigns it to a support colleague, who submits it.
    assigner = _manager(app)
    svc.assign(req, assignee, assigner)
    svc.start(req, assignee)
    svc.submit_for_approval(req, assignee)
    for who in (creator, verifier, assigner):
        with pytest.raises(svc.NotPermitted) as error:
            svc.approve(req, who, "ok")
        assert "Four-eyes" in str(error.value)
    with pytest.raises(svc.NotPermitted):
        svc.approve(req, assignee, "ok")  # support may never approve
    with pytest.raises(svc.NotPermitted):
        svc.reject(req, creator, "no")  # nor may a handler decide by rejecting
    outsider = _manager(app)
    with pytest.raises(svc.InvalidInput) as error:
        svc.approve(req, outsider, "   ")
    assert "comment" in error.value.field_errors
    assert req.status == AWAITING_APPROVAL
    svc.approve(req, outsider, "Verified, no retention applies")
    assert (req.status, req.approved_by_id) == (APPROVED, outsider.id)
    assert svc.awaiting_approval_by(outsider) == []


def _manager(app):
    from backoffice.models.staff import StaffUser
    user = StaffUser(email=f"m{db.session.query(StaffUser).count()}@test.local", full_name="M", password_hash="x")
    user.role_set = {"manager"}
    db.session.add(user)
    db.session.commit()
    return user


def test_awaiting_my_approval_excludes_my_own(app, team):
    req = new_request(ERASURE, team.manager)
    svc.verify_identity(req, "registered_email", team.support)
    svc.submit_for_approval(req, team.support)
    assert svc.awaiting_approval_by(team.manager) == []
    assert svc.awaiting_approval_by(team.manager2) == [req]
    assert svc.awaiting_approval_by(team.support) == []


def test_reject_needs_a_reason(app, team):
    req = new_request(ACCESS, team.support)
    with pytest.raises(svc.InvalidInput):
        svc.reject(req, team.support, "")
    assert req.status == RECEIVED


# --- per-type outcomes ----------------------------------------------------------------------------------------------

def _to_in_progress(req, by):
    svc.verify_identity(req, "registered_email", by)
    svc.start(req, by)


def test_rectification_applies_validated_changes_and_audits_field_names_only(app, team):
    client = make_client(phone="+7 701 555 12 34")
    new_iin = valid_iin(77)
    req = svc.create_request(type=RECTIFICATION, by=team.support, client=client, payload={"changes": {
        "email": " New.Address@Mail.KZ ", "phone": "8 (702) 123-45-67", "iin": new_iin, "full_name": "Ахметова  Дана"}})
    _to_in_progress(req, team.support)
    svc.complete(req, team.support)
    db.session.refresh(client)
    assert (client.email, client.email_norm) == ("new.address@mail.kz", "new.address@mail.kz")
    assert client.phone_e164 == "+77021234567" and client.iin == new_iin
    assert client.name_key == "ахметова дана"
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "request.complete")).scalar_one()
    details = json.loads(event.details)
    assert details["fields"] == ["email", "full_name", "iin", "phone"]
    for value in ("new.address", "7021234567", new_iin, "Дана"):
        assert value not in (event.details or "")


@pytest.mark.parametrize("field,value", [
    ("iin", "850101300001"), ("iin", "12345"), ("phone", "not a phone"), ("phone", "+7 000"), ("email", "no-at-sign"),
    ("full_name", "x" * 201), ("date_of_birth", "2999-01-01"), ("date_of_birth", "31/12/1980"),
    ("preferred_language", "de"),
])
def test_invalid_rectification_values_are_refused_with_field_errors(app, team, field, value):
    client = make_client()
    with pytest.raises(svc.InvalidInput) as error:
        svc.create_request(type=RECTIFICATION, by=team.support, client=client, payload={"changes": {field: value}})
    assert f"new_{field}" in error.value.field_errors
    assert db.session.query(PrivacyRequest).count() == 0


def test_rectification_without_any_change_is_refused(app, team):
    with pytest.raises(svc.InvalidInput):
        svc.create_request(type=RECTIFICATION, by=team.support, client=make_client(), payload={"changes": {}})


def test_blocking_after_approval_blocks_the_client_until_a_date(app, team):
    req = new_request(BLOCKING, team.support)
    _to_in_progress(req, team.support)
    svc.submit_for_approval(req, team.support)
    svc.approve(req, team.manager, "Processing conditions were breached")
    svc.complete(req, team.support)
    assert (req.client.status, req.client.blocked_until) == ("blocked", dt.date(2099, 1, 31))
    assert req.status == COMPLETED


def test_unblocking_lifts_the_block_and_refuses_an_unblocked_client(app, team):
    req = new_request(UNBLOCKING, team.support)
    _to_in_progress(req, team.support)
    svc.complete(req, team.support)
    assert req.client.status == "active"
    other = new_request(UNBLOCKING, team.support, client=make_client())
    _to_in_progress(other, team.support)
    with pytest.raises(svc.IllegalTransition):
        svc.complete(other, team.support)
    assert other.status == IN_PROGRESS


def test_erasure_of_a_blocked_client_is_refused_with_an_explanation(app, team, queue):
    client = make_client(status="blocked")
    req = new_request(ERASURE, team.support, client=client)
    _to_in_progress(req, team.support)
    assert "submit_for_approval" not in svc.legal_next_steps(req, team.support)
    with pytest.raises(svc.IllegalTransition) as error:
        svc.submit_for_approval(req, team.support)
    assert "blocked" in str(error.value)
    assert queue.calls == []


def test_erasure_queues_the_erasure_job_after_approval_and_stays_approved(app, team, queue):
    req = new_request(ERASURE, team.support)
    _to_in_progress(req, team.support)
    svc.submit_for_approval(req, team.support)
    assert queue.calls == []
    svc.approve(req, team.manager, "No retention obligation")
    assert [(f, ids) for f, ids, _ in queue.calls] == [("backoffice.jobs.erasure.erase_client", (req.id,))]
    db.session.refresh(req)
    assert req.status == APPROVED and req.job_id == queue.calls[0][2]


def test_consent_withdrawal_withdraws_consents_then_queues_erasure(app, team, queue):
    client = make_client(consents=("identification", "marketing", "statistics"))
    req = new_request(CONSENT_WITHDRAWAL, team.support, client=client)
    assert req.due_at is None  # counted from approval
    _to_in_progress(req, team.support)
    svc.submit_for_approval(req, team.support)
    svc.approve(req, team.manager, "Marker phrase present; no open bookings")
    consents = db.session.execute(select(Consent).where(Consent.client_id == client.id)).scalars().all()
    assert all(c.withdrawn_at is not None and c.withdrawn_source == "privacy_request" for c in consents)
    assert queue.calls[0][:2] == ("backoffice.jobs.erasure.erase_client", (req.id,))
    assert req.due_at is not None and req.status == APPROVED


def test_access_needs_no_approval_and_queues_the_export(app, team, queue):
    req = new_request(ACCESS, team.support)
    svc.verify_identity(req, "document_seen", team.support)
    assert "submit_for_approval" not in svc.legal_next_steps(req, team.support)
    svc.release(req, team.support)
    assert queue.calls[0][:2] == ("backoffice.jobs.export.build_export", (req.id,))
    assert req.status == APPROVED
    svc.begin_execution(req, job_id=queue.calls[0][2])
    svc.complete(req, None, outcome="Export sent")
    assert req.status == COMPLETED


def test_job_not_queued_leaves_the_request_approved_and_it_can_be_queued_again(app, team):
    # No REDIS_URL and no embedded worker: enqueue refuses.
    app.extensions.pop("embedded_worker", None)
    req = new_request(ACCESS, team.support)
    svc.verify_identity(req, "document_seen", team.support)
    with pytest.raises(svc.JobNotQueued):
        svc.release(req, team.support)
    db.session.refresh(req)
    # The job's record is written before the push, so reconcile can push it later; the request stays approved.
    assert req.status == APPROVED
    assert "retry" not in svc.legal_next_steps(req, team.support)  # managers only (JOBS_RETRY)
    assert "retry" in svc.legal_next_steps(req, team.manager)
    app.extensions["embedded_worker"] = worker = type("W", (), {"calls": [], "submit": lambda s, *a: s.calls.append(a)})()
    with pytest.raises(svc.NotPermitted):
        svc.retry(req, team.support)
    svc.retry(req, team.manager)
    assert len(worker.calls) == 1 and req.job_id


def test_failed_job_can_be_retried(app, team, queue):
    req = new_request(ERASURE, team.support, status=APPROVED, job_id="old")
    svc.begin_execution(req)
    svc.fail(req, "worker lost")
    assert req.status == FAILED
    svc.retry(req, team.manager)
    assert req.status == APPROVED and len(queue.calls) == 1


def test_marketing_opt_out_is_recorded_at_once_without_approval_or_identity_check(app, team):
    client = make_client(consents=("identification", "marketing"))
    req = svc.create_request(type=MARKETING_OPT_OUT, by=team.support, requester_email="Client@Mail.kz",
                             payload={"channel": "email"})
    assert req.status == COMPLETED and req.client_id is None
    entry = db.session.execute(select(MarketingOptOut)).scalar_one()
    # A keyed hash of the normalised address (which key is the opt-out module's business).
    assert len(entry.email_hash) == 64 and "client" not in entry.email_hash and entry.request_id == req.id
    assert entry.channel == "email" and entry.source == "privacy_request"
    req2 = svc.create_request(type=MARKETING_OPT_OUT, by=team.support, client=client)
    assert req2.status == COMPLETED
    entry2 = db.session.execute(select(MarketingOptOut).where(MarketingOptOut.request_id == req2.id)).scalar_one()
    assert len(entry2.phone_hash) == 64 and entry2.client_id == client.id
    marketing = [c for c in client.consents if c.purpose == "marketing"][0]
    assert marketing.withdrawn_at is not None


def test_marketing_opt_out_needs_an_address(app, team):
    with pytest.raises(svc.InvalidInput) as error:
        svc.create_request(type=MARKETING_OPT_OUT, by=team.support)
    assert "requester_email" in error.value.field_errors


def test_third_party_grant_is_recorded_in_the_disclosure_register(app, team):
    req = new_request(THIRD_PARTY_GRANT, team.support)
    _to_in_progress(req, team.support)
    svc.complete(req, team.support)
    grant = db.session.execute(select(DisclosureGrant)).scalar_one()
    assert (grant.client_id, grant.request_id, grant.recipient, grant.expires_on) == (
        req.client_id, req.id, "Law firm Adilet LLP", dt.date(2099, 12, 31))


@pytest.mark.parametrize("payload,field", [
    ({"scope": "all"}, "recipient"), ({"recipient": "X"}, "scope"),
    ({"recipient": "X", "scope": "all", "expires_on": "2000-01-01"}, "expires_on"),
])
def test_third_party_grant_needs_recipient_scope_and_future_expiry(app, team, payload, field):
    with pytest.raises(svc.InvalidInput) as error:
        svc.create_request(type=THIRD_PARTY_GRANT, by=team.support, client=make_client(), payload=payload)
    assert field in error.value.field_errors


@pytest.mark.parametrize("type_", [ERASURE, ACCESS, RECTIFICATION, CONSENT_WITHDRAWAL])
def test_unmatched_request_completes_with_the_reply_recorded(app, team, type_):
    req = new_request(type_, team.support, client=None)
    _to_in_progress(req, team.support)
    assert "submit_for_approval" not in svc.legal_next_steps(req, team.support)
    with pytest.raises(svc.InvalidInput):
        svc.complete(req, team.support, outcome="")
    svc.complete(req, team.support, outcome="We hold no personal data about you.")
    assert (req.status, req.outcome) == (COMPLETED, "We hold no personal data about you.")


# --- matching, duplicates, assignment -------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["email", "phone", "iin", "pnr"])
def test_requests_are_matched_by_email_phone_iin_or_pnr(app, team, how):
    client = make_client(email="dana@mail.kz", phone="+7 701 555 12 34")
    make_client(email="other@mail.kz", phone="+7 702 555 00 00", iin=valid_iin(500))
    kwargs = {
        "email": {"requester_email": "DANA@mail.kz"}, "phone": {"requester_phone": "8 701 555 1234"},
        "iin": {"identifier": client.iin}, "pnr": {"identifier": client.bookings[0].pnr.lower()},
    }[how]
    req = svc.create_request(type=ACCESS, by=team.support, **kwargs)
    assert req.client_id == client.id


def test_unmatched_request_can_be_linked_later(app, team):
    req = svc.create_request(type=ACCESS, by=team.support, requester_email="nobody@mail.kz")
    assert req.client_id is None and svc.find_candidates(req) == []
    client = make_client()
    svc.match_client(req, client, team.support)
    assert req.client_id == client.id
    with pytest.raises(svc.IllegalTransition):
        svc.match_client(req, client, team.support)


def test_duplicates_are_flagged_and_merged(app, team):
    client = make_client()
    first = svc.create_request(type=ERASURE, by=team.support, client=client)
    second = svc.create_request(type=ERASURE, by=team.support, client=client)
    svc.create_request(type=ACCESS, by=team.support, client=client)
    assert svc.find_duplicates(second) == [first]
    with pytest.raises(svc.InvalidInput):
        svc.merge_duplicate(second, second, team.support)
    svc.merge_duplicate(second, first, team.support)
    assert (second.status, second.duplicate_of_id) == (CANCELLED, first.id)
    assert svc.find_duplicates(first) == []
    assert "duplicate_merged" in [e.action for e in first.events]


def test_bulk_assignment_is_all_or_nothing(app, team):
    open_one = new_request(ACCESS, team.support)
    closed = new_request(ACCESS, team.support, status=REJECTED)
    with pytest.raises(svc.IllegalTransition):
        svc.assign([open_one, closed], team.support2, team.support)
    db.session.refresh(open_one)
    assert open_one.assigned_to_id is None
    with pytest.raises(svc.InvalidInput):
        svc.assign([open_one], team.supervisor, team.support)
    svc.assign([open_one], team.support2, team.support)
    assert open_one.assigned_to_id == team.support2.id
    assert svc.my_queue(team.support2) == [open_one]


# --- deadlines on requests ------------------------------------------------------------------------------------------

def test_new_request_gets_its_statutory_due_date(app, team):
    received = dt.datetime(2026, 3, 20, 5, 0)  # 10:00 Almaty, Friday before Nauryz
    req = svc.create_request(type=ERASURE, by=team.support, client=make_client(), received_at=received)
    assert req.due_at == dt.datetime(2026, 3, 26, 13, 0)  # 18:00 Almaty, Thursday 26 March


def test_extension_once_with_reason_where_the_rule_allows_it(app, team):
    req = svc.create_request(type=ACCESS, by=team.support, client=make_client(),
                             received_at=dt.datetime(2026, 11, 23, 5, 0))
    assert "extend_deadline" not in svc.legal_next_steps(req, team.support)
    with pytest.raises(svc.IllegalTransition):
        svc.extend_deadline(req, team.support, "Large archive")
    rule = db.session.execute(select(DeadlineRule).where(DeadlineRule.request_type == ACCESS)).scalar_one()
    rule.extension_allowed, rule.extension_working_days = True, 2
    db.session.commit()
    with pytest.raises(svc.InvalidInput):
        svc.extend_deadline(req, team.support, " ")
    old_due = req.due_at
    svc.extend_deadline(req, team.support, "Archive retrieval from off-site storage")
    assert req.due_at == dt.datetime(2026, 11, 30, 13, 0) and old_due == dt.datetime(2026, 11, 26, 13, 0)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "request.extend_deadline")).scalar_one()
    assert json.loads(event.details)["new_due_at"].startswith("2026-11-30")
    with pytest.raises(svc.IllegalTransition):
        svc.extend_deadline(req, team.support, "Again")


def test_home_page_queues(app, team):
    from backoffice.models.base import utcnow

    now = utcnow()
    late = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now - dt.timedelta(hours=1))
    soon = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now + dt.timedelta(minutes=30))
    later = new_request(ACCESS, team.support, status=IN_PROGRESS, due_at=now + dt.timedelta(days=30))
    new_request(ACCESS, team.support, status=COMPLETED, due_at=now - dt.timedelta(hours=1))
    assert svc.overdue(now) == [late]
    assert svc.due_soon(now) == [soon]
    assert later not in svc.due_soon(now)


# --- concurrency ----------------------------------------------------------------------------------------------------

def test_a_stale_version_from_the_page_is_refused(app, team):
    req = new_request(ACCESS, team.support)
    version = req.version
    svc.verify_identity(req, "document_seen", team.support)
    with pytest.raises(svc.StaleRequest):
        svc.reject(req, team.support, "duplicate", expected_version=version)
    assert req.status == IDENTITY_VERIFIED


def test_two_sessions_changing_the_same_request_only_one_wins(app, team):
    from sqlalchemy.orm import Session

    req = new_request(ERASURE, team.support)
    with Session(db.engine) as other:
        theirs = other.get(PrivacyRequest, req.id)
        mine = req
        svc.verify_identity(mine, "document_seen", team.support)
        theirs.status = CANCELLED
        from sqlalchemy.orm.exc import StaleDataError
        with pytest.raises(StaleDataError):
            other.commit()
    db.session.refresh(req)
    assert req.status == IDENTITY_VERIFIED


def test_stale_update_inside_the_service_becomes_a_clear_error(app, team):
    from sqlalchemy import update

    req = new_request(ACCESS, team.support)
    # Another process moves the request on after this session read it.
    with db.engine.begin() as connection:
        connection.execute(update(PrivacyRequest.__table__).where(PrivacyRequest.__table__.c.id == req.id)
                           .values(version=req.version + 1, status=CANCELLED))
    with pytest.raises(svc.StaleRequest) as error:
        svc.verify_identity(req, "document_seen", team.support)
    assert "reload" in str(error.value)
    assert db.session.execute(select(RequestEvent).where(RequestEvent.action == "verify_identity")).first() is None
    assert db.session.get(PrivacyRequest, req.id).status == CANCELLED


def test_concurrent_approval_on_postgresql_one_wins(app, team, queue):
    """Two managers press Approve at the same moment in two sessions: one wins, the other gets StaleRequest."""
    import threading

    from tests.conftest import _database_url, is_postgres, require_service

    if not is_postgres():
        pytest.skip("row-level concurrency is tested against PostgreSQL (CI runs it)")
    require_service("PostgreSQL", _database_url(), 5432)
    req = new_request(ERASURE, team.support)
    _to_in_progress(req, team.support)
    svc.submit_for_approval(req, team.support)
    request_id, manager_ids = req.id, (team.manager.id, team.manager2.id)
    db.session.remove()

    barrier = threading.Barrier(2)
    outcomes = {}

    def approve_as(manager_id):
        with app.app_context():
            from backoffice.models.staff import StaffUser

            mine = db.session.get(PrivacyRequest, request_id)
            me = db.session.get(StaffUser, manager_id)
            assert mine.status == AWAITING_APPROVAL
            seen_version = mine.version  # what each manager's page was rendered with
            db.session.commit()  # end the read transaction; both now hold the same version
            barrier.wait(timeout=30)
            try:
                svc.approve(mine, me, f"approved by {manager_id}", expected_version=seen_version)
                outcomes[manager_id] = "approved"
            except svc.StaleRequest:
                outcomes[manager_id] = "stale"
            except Exception as exc:  # reported in the assertion below rather than lost in the thread
                outcomes[manager_id] = repr(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve_as, args=(m,)) for m in manager_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["approved", "stale"], outcomes
    winner = [m for m, outcome in outcomes.items() if outcome == "approved"][0]
    final = db.session.get(PrivacyRequest, request_id)
    assert (final.status, final.approved_by_id) == (APPROVED, winner)
    approvals = db.session.execute(select(RequestEvent).where(RequestEvent.request_id == request_id,
                                                              RequestEvent.action == "approve")).scalars().all()
    assert len(approvals) == 1
    assert len(queue.calls) == 1
