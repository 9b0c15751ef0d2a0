"""A back-office people work in all day (issue 14): home counters and rows, search by POST, tabs, bulk decisions
with per-request rules, confirmation of decisions, live status, the house style of dates, amounts and plurals."""
import datetime as dt
import re
from decimal import Decimal

import pytest

from backoffice.admin import formatting
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.requests import ACCESS, AWAITING_APPROVAL, ERASURE, IN_PROGRESS, PrivacyRequest
from backoffice.services import queues, request_search
from tests.factories import make_client, valid_iin
from tests.services.conftest import RecordingWorker
from tests.services.requestkit import new_request


@pytest.fixture
def queue(app):
    worker = RecordingWorker()
    app.extensions["embedded_worker"] = worker
    yield worker
    app.extensions.pop("embedded_worker", None)


def _rows(html):
    return [int(i) for i in re.findall(r'<tr class="[^"]*" data-request="(\d+)"', html)]


def test_home_counts_and_lists_each_request_once_overdue_first(client, make_staff, login_as):
    support = make_staff("support")
    now = utcnow()
    late = new_request(ACCESS, support, status=IN_PROGRESS, due_at=now - dt.timedelta(days=3))
    soon = new_request(ACCESS, support, status=IN_PROGRESS, due_at=now + dt.timedelta(hours=1))
    waiting = new_request(ERASURE, support, status=AWAITING_APPROVAL, due_at=now - dt.timedelta(days=1))
    manager = login_as("manager")
    late.assigned_to_id = manager.id  # mine AND overdue: still one row
    db.session.commit()
    html = client.get("/admin/").get_data(as_text=True)
    rows = _rows(html)
    assert sorted(rows) == sorted({late.id, soon.id, waiting.id}) and len(rows) == 3
    assert rows.index(soon.id) == 2  # overdue ones first
    assert f'class="row-overdue" data-request="{late.id}"' in html
    assert f'class="row-due-soon" data-request="{soon.id}"' in html
    counters = dict(queues.counters(manager))
    assert counters["overdue"] == 2 and counters["approval"] == 1 and counters["failed_jobs"] == 0
    assert 'href="/admin/requests/?tab=overdue"' in html and 'href="/admin/jobs/?status=failed"' in html
    listed = client.get("/admin/requests/?tab=overdue").get_data(as_text=True)
    assert {int(i) for i in re.findall(r'name="rowid"[^>]*value="(\d+)"', listed)} == {late.id, waiting.id}


def test_search_is_posted_and_finds_by_number_email_phone_iin(client, make_staff, login_as):
    support = make_staff("support")
    subject = make_client(email="dana@mail.kz", phone="+7 702 111 22 33", iin=valid_iin(7))
    mine = new_request(ACCESS, support, client=subject)
    other = new_request(ACCESS, support)
    login_as("supervisor")  # a read-only role may search
    for term in (f"#{mine.id}", "Dana@Mail.kz", "8 (702) 111-22-33", subject.iin):
        response = client.post("/admin/requests/search/", data={"term": term})
        assert response.status_code == 200, term
        found = {int(i) for i in re.findall(r"/admin/requests/details/\?id=(\d+)", response.get_data(as_text=True))}
        assert mine.id in found and other.id not in found, term
    assert request_search.classify("12")[0] == "number" and request_search.classify(subject.iin)[0] == "iin"


def test_bulk_approve_applies_four_eyes_per_request_and_says_why(client, make_staff, login_as, queue):
    support = make_staff("support")
    manager = login_as("manager")
    others = [new_request(ERASURE, support, status=AWAITING_APPROVAL) for _ in range(2)]
    own = new_request(ERASURE, manager, status=AWAITING_APPROVAL)  # created by this manager
    ids = [r.id for r in others + [own]]
    confirm = client.post("/admin/requests/action/", data={"action": "approve_selected", "rowid": ids})
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Four-eyes" in page
    assert all(db.session.get(PrivacyRequest, i).status == AWAITING_APPROVAL for i in ids)  # nothing yet
    result = client.post("/admin/requests/bulk/", data={"ids": ",".join(map(str, ids)), "step": "approve",
                                                         "comment": "checked"})
    html = result.get_data(as_text=True)
    assert result.status_code == 200 and "2 requests approved." in html
    db.session.expire_all()
    assert [db.session.get(PrivacyRequest, r.id).status for r in others] == ["approved", "approved"]
    assert db.session.get(PrivacyRequest, own.id).status == AWAITING_APPROVAL
    assert f'data-request="{own.id}" data-done="no"' in html


def test_bulk_decision_needs_a_reason_and_a_manager(client, make_staff, login_as):
    support = make_staff("support")
    req = new_request(ERASURE, support, status=AWAITING_APPROVAL)
    login_as("manager")
    response = client.post("/admin/requests/bulk/", data={"ids": str(req.id), "step": "reject", "comment": ""})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, req.id).status == AWAITING_APPROVAL


def test_decisions_are_confirmed_on_the_server_and_own_request_says_why(client, make_staff, login_as, auth):
    support = make_staff("support")
    req = new_request(ACCESS, support, status=IN_PROGRESS)
    login_as("support")
    data = {"id": req.id, "action": "reject", "reject-version": req.version, "reject-comment": "no ground"}
    asked = client.post("/admin/requests/step/", data=data)
    assert asked.status_code == 200 and 'name="confirmed" value="1"' in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, req.id).status == IN_PROGRESS
    assert client.post("/admin/requests/step/", data={**data, "confirmed": "1"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, req.id).status == "rejected"

    auth.logout()
    manager = login_as("manager")
    own = new_request(ERASURE, manager, status=AWAITING_APPROVAL)
    page = client.get(f"/admin/requests/details/?id={own.id}").get_data(as_text=True)
    assert 'id="not-offered-approve"' in page and "Four-eyes" in page and 'value="approve"' not in page


def test_status_endpoint_reports_the_step_without_personal_data(client, make_staff, login_as):
    support = make_staff("support")
    subject = make_client(email="secret@mail.kz")
    req = new_request(ERASURE, support, client=subject, status="approved")
    login_as("manager")
    response = client.get(f"/admin/requests/status/?id={req.id}")
    data = response.get_json()
    assert response.status_code == 200 and data["step"] == "queued" and data["live"] is True
    assert "secret" not in response.get_data(as_text=True)
    assert client.get("/admin/requests/status/?id=999999").status_code == 404
    page = client.get(f"/admin/requests/details/?id={req.id}").get_data(as_text=True)
    assert 'data-live="1"' in page and "live_status.js" in page and "<script>" not in page
    assert client.get("/admin/jobs/status.json?ids=a,b").get_json() == []


def test_client_page_offers_a_new_request_with_the_client_preselected(client, login_as):
    subject = make_client()
    login_as("support")
    page = client.get(f"/admin/clients/details/?id={subject.id}").get_data(as_text=True)
    assert f"/admin/requests/new/?client_id={subject.id}" in page
    form = client.get(f"/admin/requests/new/?client_id={subject.id}").get_data(as_text=True)
    assert 'id="preselected-client"' in form and f'value="{subject.id}"' in form
    response = client.post("/admin/requests/new/", data={"type": "access", "channel": "email",
                                                         "new_preferred_language": "", "opt_out_channel": "all",
                                                         "client_id": str(subject.id)})
    assert response.status_code == 302
    assert db.session.query(PrivacyRequest).one().client_id == subject.id


@pytest.mark.parametrize("lang,when,amount,days", [
    ("ru", "01.12.2026 12:02", "161\xa0614,00\xa0₸", "2 рабочих дня"),
    ("kk", "01.12.2026 12:02", "161\xa0614,00\xa0₸", "2 жұмыс күні"),
    ("en", "1 Dec 2026, 12:02", "₸161,614.00", "2 working days"),
])
def test_house_style_of_dates_amounts_and_plurals(app, lang, when, amount, days):
    with app.test_request_context(headers={"Accept-Language": lang}):
        from flask import session
        session["language"] = lang
        assert formatting.local_time(dt.datetime(2026, 12, 1, 7, 2, 6, 104426)) == when
        assert formatting.money(Decimal("161614.00"), "KZT") == amount
        assert formatting.working_days(2) == days
        assert formatting.local_time(None) == ""


def test_every_page_has_lang_and_a_skip_link(client, login_as):
    login_as("manager")
    client.post("/language/kk", data={})
    html = client.get("/admin/").get_data(as_text=True)
    assert '<html lang="kk">' in html and 'href="#main"' in html and 'id="main"' in html


def test_staff_form_names_the_bad_field_and_offers_roles_as_checkboxes(client, login_as):
    """The admin never types a password (issue 13: a one-time code is shown instead), so there is none to keep."""
    login_as("admin")
    response = client.post("/admin/staff/new/", data={"email": "not-an-email", "full_name": "X", "language": "kk",
                                                      "role_list": ["support"]})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="new_password"' not in html
    assert 'type="checkbox"' in html and ">Support<" in html.replace("\n", "")
    assert "E-mail: Enter a valid e-mail address." in html
    bad_language = client.post("/admin/staff/new/", data={"email": "a@bekair.kz", "language": "xx",
                                                          "role_list": ["support"]})
    assert bad_language.status_code == 200 and "a@bekair.kz" not in str(
        db.session.execute(db.select(db.text("email FROM staff_user"))).all())


def test_a_search_is_one_audit_event_with_the_ids_shown_and_the_terms_hash_only(client, make_staff, login_as,
                                                                                 app):
    import json

    from sqlalchemy import event, select

    from backoffice.models.audit import AuditEvent
    from backoffice.services import audit

    support = make_staff("support")
    subject = make_client(email="aigerim@mail.kz")
    found = [new_request(ACCESS, support, client=subject) for _ in range(3)]
    login_as("support")
    before = db.session.execute(select(db.func.max(AuditEvent.id))).scalar() or 0
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        html = client.post("/admin/requests/search/", data={"term": "Aigerim@mail.kz"}).get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert all(f"details/?id={r.id}" in html for r in found)
    events = db.session.execute(select(AuditEvent).where(AuditEvent.id > before)).scalars().all()
    assert [e.action for e in events] == ["privacy_request.list"]
    details = json.loads(events[0].details)
    assert sorted(details["ids"]) == sorted(r.id for r in found) and details["searched"] is True
    assert details["search_kind"] == "email" and details["search_term_hash"] == audit.keyed_hash("Aigerim@mail.kz")
    assert "aigerim" not in events[0].details.lower()
    # The rows shown are not read again after the audit's commit (one SELECT of requests, not one per row).
    request_reads = [s for s in statements if s.lstrip().startswith("SELECT") and "FROM privacy_request" in s
                     and "count(" not in s]
    assert len(request_reads) == 1, request_reads
