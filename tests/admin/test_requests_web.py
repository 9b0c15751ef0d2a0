"""Driving requests of every type through the back-office with the right roles, end to end (issue 3)."""
import re

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.clients import Client
from backoffice.models.consent import Consent
from backoffice.models.deadlines import DeadlineRule
from backoffice.models.disclosures import DisclosureGrant
from backoffice.models.optouts import MarketingOptOut
from backoffice.models.requests import PrivacyRequest
from tests.factories import make_client, valid_iin
from tests.services.conftest import RecordingWorker


@pytest.fixture
def queue(app):
    worker = RecordingWorker()
    app.extensions["embedded_worker"] = worker
    yield worker
    app.extensions.pop("embedded_worker", None)


class Desk:
    """What a staff member does on the request pages."""

    def __init__(self, client, auth):
        self.http = client
        self.auth = auth

    def as_(self, *roles):
        self.auth.logout()
        return self.auth.login_as(*roles)

    def as_user(self, user):
        self.auth.logout()
        return self.auth.login(user)

    def create(self, expect_ok=True, **fields):
        data = {"channel": "email", "new_preferred_language": "", "opt_out_channel": "all", **fields}
        response = self.http.post("/admin/requests/new/", data=data)
        if not expect_ok:
            return response
        assert response.status_code == 302, _errors(response)
        found = re.search(r"details/\?id=(\d+)", response.headers["Location"])
        assert found, response.headers["Location"]
        return int(found.group(1))

    def page(self, request_id):
        response = self.http.get(f"/admin/requests/details/?id={request_id}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def offered(self, request_id):
        return set(re.findall(r'name="action" value="([a-z_]+)"', self.page(request_id)))

    def step(self, request_id, action, expect=302, confirm=True, **fields):
        """Take a step; decisions (approve, reject, cancel, merge) are confirmed on the page that asks again."""
        version = db.session.get(PrivacyRequest, request_id).version
        db.session.expire_all()
        data = {"id": request_id, "action": action, f"{action}-version": version}
        if confirm:
            data["confirmed"] = "1"
        data.update({f"{action}-{name}": value for name, value in fields.items()})
        response = self.http.post("/admin/requests/step/", data=data)
        assert response.status_code == expect, (action, response.status_code, _errors(response))
        return response

    def status(self, request_id):
        db.session.expire_all()
        return db.session.get(PrivacyRequest, request_id).status


def _errors(response):
    text = response.get_data(as_text=True)
    return re.findall(r'(?:invalid-feedback[^>]*>|alert-danger[^>]*>)([^<]+)', text)[:5] or text[:300]


@pytest.fixture
def desk(client, auth):
    return Desk(client, auth)


def test_access_request_up_to_the_export_job(desk, queue):
    subject = make_client(email="dana@mail.kz")
    desk.as_("support")
    rid = desk.create(type="access", requester_email="Dana@Mail.kz", description="What do you hold about me?")
    page = desk.page(rid)
    assert f"#{subject.id}" in page and "No. 94-V of 21 May 2013" in page and "art. 24(1)(1)" in page and "working days" in page
    assert desk.offered(rid) == {"verify_identity", "reject", "cancel", "assign"}
    desk.step(rid, "release", expect=409)  # not before the identity check
    desk.step(rid, "verify_identity", method="registered_email")
    assert "release" in desk.offered(rid)
    desk.step(rid, "release")
    assert desk.status(rid) == "approved"
    assert [c[:2] for c in queue.calls] == [("backoffice.jobs.export.build_export", (rid,))]
    assert "Produce export" in desk.page(rid)  # on the timeline


def test_rectification_applies_the_new_values(desk):
    subject = make_client(phone="+7 701 555 12 34")
    desk.as_("support")
    rid = desk.create(type="rectification", identifier=subject.iin, new_phone="8 702 123 45 67",
                      new_email="New@Mail.kz")
    desk.step(rid, "verify_identity", method="document_seen", note="ID card, ...1234")
    desk.step(rid, "start")
    desk.step(rid, "complete")
    db.session.expire_all()
    client = db.session.get(Client, subject.id)
    assert (client.phone_e164, client.email_norm, desk.status(rid)) == ("+77021234567", "new@mail.kz", "completed")


def test_bad_rectification_input_shows_field_errors_and_saves_nothing(desk):
    make_client(email="dana@mail.kz")
    desk.as_("support")
    response = desk.create(expect_ok=False, type="rectification", requester_email="dana@mail.kz",
                           new_iin="850101300001", new_phone="12", requester_name="x" * 300)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "control digit" in text and "phone" in text.lower() and "is-invalid" in text
    assert db.session.query(PrivacyRequest).count() == 0


@pytest.mark.parametrize("type_", ["blocking", "erasure", "consent_withdrawal"])
def test_four_eyes_types_need_another_managers_approval(desk, queue, type_):
    subject = make_client(email="dana@mail.kz", consents=("identification", "marketing"))
    handler = desk.as_("manager")
    rid = desk.create(type=type_, requester_email="dana@mail.kz", blocked_until="2099-01-01")
    desk.step(rid, "verify_identity", method="signed_letter")
    desk.step(rid, "start")
    desk.step(rid, "submit_for_approval", comment="Checked bookings: none open")
    assert desk.status(rid) == "awaiting_approval"
    assert "approve" not in desk.offered(rid)
    response = desk.step(rid, "approve", expect=409, comment="self-approval")
    assert "Four-eyes" in response.get_data(as_text=True)
    assert desk.status(rid) == "awaiting_approval"

    desk.as_("support")
    assert "approve" not in desk.offered(rid)
    desk.step(rid, "approve", expect=409, comment="support cannot")

    approver = desk.as_("manager")
    assert {"approve", "reject"} <= desk.offered(rid)
    assert f"#{rid}" in desk.http.get("/admin/").get_data(as_text=True)  # awaiting my approval
    response = desk.step(rid, "approve", expect=400, comment="")
    assert "is-invalid" in response.get_data(as_text=True)
    desk.step(rid, "approve", comment="Grounds confirmed")
    req = db.session.get(PrivacyRequest, rid)
    assert req.approved_by_id == approver.id != handler.id
    if type_ == "blocking":
        assert queue.calls == []
        desk.as_user(handler)
        desk.step(rid, "complete")
        assert db.session.get(Client, subject.id).status == "blocked"
        assert desk.status(rid) == "completed"
    else:
        assert [c[:2] for c in queue.calls] == [("backoffice.jobs.erasure.erase_client", (rid,))]
        assert desk.status(rid) == "approved"
    if type_ == "consent_withdrawal":
        consents = db.session.execute(select(Consent).where(Consent.client_id == subject.id)).scalars().all()
        assert consents and all(c.withdrawn_at for c in consents)


def test_unblocking(desk):
    subject = make_client(email="dana@mail.kz", status="blocked")
    desk.as_("support")
    rid = desk.create(type="unblocking", requester_email="dana@mail.kz")
    desk.step(rid, "verify_identity", method="phone_callback")
    desk.step(rid, "start")
    desk.step(rid, "complete", outcome="Block lifted")
    db.session.expire_all()
    assert db.session.get(Client, subject.id).status == "active"


def test_marketing_opt_out_is_recorded_at_once(desk):
    desk.as_("support")
    rid = desk.create(type="marketing_opt_out", requester_email="someone@mail.kz", opt_out_channel="email")
    assert desk.status(rid) == "completed"
    assert db.session.execute(select(MarketingOptOut)).scalar_one().request_id == rid
    assert desk.offered(rid) == set()


def test_third_party_grant_goes_into_the_disclosure_register(desk):
    subject = make_client(email="dana@mail.kz")
    desk.as_("support")
    rid = desk.create(type="third_party_grant", requester_email="dana@mail.kz", recipient="Adilet LLP",
                      scope="Bookings of 2024", expires_on="2099-06-30")
    desk.step(rid, "verify_identity", method="signed_letter")
    desk.step(rid, "start")
    desk.step(rid, "complete")
    grant = db.session.execute(select(DisclosureGrant)).scalar_one()
    assert (grant.client_id, grant.recipient) == (subject.id, "Adilet LLP")
    client_page = desk.http.get(f"/admin/clients/details/?id={subject.id}").get_data(as_text=True)
    assert "Disclosure register" in client_page and "Adilet LLP" in client_page


def test_unmatched_request_completes_with_the_no_data_reply(desk):
    desk.as_("support")
    rid = desk.create(type="erasure", requester_email="stranger@mail.kz")
    assert "Not matched" in desk.page(rid)
    desk.step(rid, "verify_identity", method="registered_email")
    desk.step(rid, "start")
    assert "hold no personal data" in desk.page(rid)  # the reply is prefilled
    desk.step(rid, "complete", expect=400, outcome="")
    desk.step(rid, "complete", outcome="We hold no personal data about you.")
    assert desk.status(rid) == "completed"


def test_reject_and_cancel_need_a_reason(desk):
    desk.as_("support")
    rid = desk.create(type="access", requester_email="a@mail.kz")
    desk.step(rid, "reject", expect=400, comment="")
    desk.step(rid, "cancel", comment="Client withdrew")
    assert desk.status(rid) == "cancelled"
    desk.step(rid, "verify_identity", expect=409, method="registered_email")


def test_stale_page_loses_with_a_clear_message(desk):
    desk.as_("support")
    rid = desk.create(type="access", requester_email="a@mail.kz")
    stale = db.session.get(PrivacyRequest, rid).version
    desk.step(rid, "verify_identity", method="registered_email")
    response = desk.http.post("/admin/requests/step/", data={
        "id": rid, "action": "reject", "reject-version": stale, "reject-comment": "duplicate"})
    assert response.status_code == 409 and "reload" in response.get_data(as_text=True)
    assert desk.status(rid) == "identity_verified"


def test_duplicates_are_flagged_and_merged_from_the_page(desk):
    make_client(email="dana@mail.kz")
    desk.as_("support")
    first = desk.create(type="erasure", requester_email="dana@mail.kz")
    second = desk.create(type="erasure", requester_email="dana@mail.kz")
    assert "Possible duplicate" in desk.page(second)
    desk.step(second, "merge_duplicate", duplicate_of=str(first))
    assert desk.status(second) == "cancelled"
    assert db.session.get(PrivacyRequest, second).duplicate_of_id == first


def test_supervisor_reads_but_cannot_act(desk):
    desk.as_("support")
    rid = desk.create(type="access", requester_email="a@mail.kz")
    desk.as_("supervisor")
    assert "No step is open to you" in desk.page(rid)
    desk.step(rid, "verify_identity", expect=403, method="registered_email")
    assert desk.http.get("/admin/requests/new/").status_code == 403


def test_bulk_assign_and_csv_export(desk, make_staff):
    colleague = make_staff("support")
    me = desk.as_("support")
    ids = [desk.create(type="access", requester_email=f"c{i}@mail.kz") for i in range(3)]
    response = desk.http.post("/admin/requests/action/", data={"action": "assign_to_me", "rowid": ids[:2]})
    assert response.status_code == 302
    assert [db.session.get(PrivacyRequest, i).assigned_to_id for i in ids] == [me.id, me.id, None]
    mine = desk.http.get("/admin/requests/?tab=mine").get_data(as_text=True)
    listed = {int(i) for i in re.findall(r'name="rowid"[^>]*value="(\d+)"', mine)}
    assert listed == set(ids[:2])

    response = desk.http.post("/admin/requests/action/", data={"action": "assign_to_colleague", "rowid": ids})
    assert response.status_code == 200 and "Assign to a colleague" in response.get_data(as_text=True)
    response = desk.http.post("/admin/requests/assign/", data={"ids": ",".join(map(str, ids)),
                                                               "assignee": str(colleague.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert {db.session.get(PrivacyRequest, i).assigned_to_id for i in ids} == {colleague.id}

    response = desk.http.get("/admin/requests/export.csv?flt0_0=access")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = body.strip().splitlines()
    assert lines[0].startswith("id,type,status") and len(lines) == 4
    assert "@" not in body
    response = desk.http.post("/admin/requests/action/", data={"action": "export_selected", "rowid": ids[:1]})
    assert response.get_data(as_text=True).strip().splitlines()[1].startswith(f"{ids[0]},access")


def test_list_shows_time_left_and_overdue(desk):
    import datetime as dt

    desk.as_("support")
    rid = desk.create(type="access", requester_email="a@mail.kz")
    req = db.session.get(PrivacyRequest, rid)
    req.due_at = req.received_at - dt.timedelta(hours=3)
    db.session.commit()
    page = desk.http.get("/admin/requests/").get_data(as_text=True)
    assert "overdue today" in page or "overdue by" in page
    home = desk.http.get("/admin/").get_data(as_text=True)
    assert f"#{rid}" in home.split(">Overdue<")[1]


def test_admin_edits_deadline_rules_and_it_is_audited(desk):
    desk.as_("admin")
    assert desk.http.get("/admin/deadlines/").status_code == 200
    rule = db.session.execute(select(DeadlineRule).where(DeadlineRule.request_type == "access")).scalar_one()
    response = desk.http.post(f"/admin/deadlines/edit/?id={rule.id}", data={
        "working_days": "5", "counted_from": "receipt", "legal_reference": rule.legal_reference,
        "extension_allowed": "y", "extension_working_days": "2"})
    assert response.status_code == 302
    db.session.expire_all()
    rule = db.session.get(DeadlineRule, rule.id)
    assert (rule.working_days, rule.extension_allowed) == (5, True)
    response = desk.http.post(f"/admin/deadlines/edit/?id={rule.id}", data={
        "working_days": "-1", "counted_from": "receipt", "legal_reference": "x", "extension_working_days": "0"})
    assert response.status_code == 200 and db.session.get(DeadlineRule, rule.id).working_days == 5


def test_step_forms_carry_csrf_and_refuse_without_it(app, desk):
    desk.as_("support")
    rid = desk.create(type="access", requester_email="a@mail.kz")
    assert 'name="verify_identity-csrf_token"' in desk.page(rid) or "csrf_token" in desk.page(rid)
    app.config["WTF_CSRF_ENABLED"] = True
    response = desk.http.post("/admin/requests/step/", data={"id": rid, "action": "cancel",
                                                             "cancel-comment": "forged"})
    assert response.status_code == 400
    assert desk.status(rid) == "received"


def test_identifier_iin_matches_the_client(desk):
    subject = make_client(iin=valid_iin(321))
    desk.as_("support")
    rid = desk.create(type="access", identifier=subject.iin)
    assert db.session.get(PrivacyRequest, rid).client_id == subject.id
