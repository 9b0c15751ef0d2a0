"""Each role's main journey in a real browser (Debian's Chromium), in en, kk and ru, axe-core on every page."""
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from playwright.sync_api import expect
from sqlalchemy import select

from backoffice import labels

from backoffice.extensions import db
from backoffice.models.clients import Client
from backoffice.models.requests import COMPLETED, PrivacyRequest

from .conftest import Visitor

DEMO = "demo.local"


def _no_violations(*visitors):
    found = [v for visitor in visitors for v in visitor.violations]
    assert found == [], "axe-core serious/critical violations:\n" + "\n".join(map(str, found))


def _a_client(app):
    with app.app_context():
        client = db.session.execute(select(Client).where(Client.status == "active", Client.phone_e164.is_not(None),
                                                         Client.iin.is_not(None))
                                    .order_by(Client.id)).scalars().first()
        return client.id, client.phone_e164, client.iin


def _request_ids(app):
    with app.app_context():
        return set(db.session.execute(select(PrivacyRequest.id)).scalars())


def _status(app, request_id):
    with app.app_context():
        return db.session.get(PrivacyRequest, request_id).status


def _label(app, language, code, kind):
    with app.test_request_context(), force_locale(language):
        return str(labels.label(code, kind))


def _text(app, language, message):
    from flask_babel import gettext

    with app.test_request_context(), force_locale(language):
        return gettext(message)


LIVE_WAIT_MS = 60_000  # pages poll every 0.2 s here (conftest); the embedded worker may be busy with another job


def _step(visitor, step):
    form = visitor.page.locator(f"#step-{step}")
    for select_ in form.locator("select").all():
        options = [o for o in select_.locator("option").all() if o.get_attribute("value")]
        select_.select_option(options[0].get_attribute("value"))
    for area in form.locator("textarea").all():
        area.fill("browser journey")
    form.locator("button[type=submit]").click()
    visitor.page.wait_for_load_state()
    visitor.axe()
    confirm = visitor.page.locator(f"#confirm-{step}")
    if confirm.count():  # approve, reject, cancel and merge ask again on the server (issue 14)
        confirm.locator("button[type=submit]").click()
        visitor.page.wait_for_load_state()
        visitor.axe()


@pytest.mark.parametrize("language", ["en", "kk", "ru"])
def test_erasure_journey(visit, live_app, language, tmp_path, monkeypatch):
    client_id, phone, iin = _a_client(live_app)
    support = visit(f"support-{language}@{DEMO}", language)
    support.screenshot("home")
    # Finds the client by phone, typed the way people say it.
    local = "8 " + phone[2:5] + " " + phone[5:8] + " " + phone[8:10] + " " + phone[10:]
    support.go(f"/admin/clients/?search={local}")
    assert support.page.locator(f"a[href*='details/?id={client_id}']").count() >= 1
    before = _request_ids(live_app)
    support.go("/admin/requests/new/")
    support.page.select_option("#type", "erasure")
    support.page.fill("#requester_phone", local)
    support.page.fill("#identifier", iin)
    support.page.locator("form.admin-form [type=submit]").first.click()
    support.page.wait_for_load_state()
    (request_id,) = _request_ids(live_app) - before
    support.go(f"/admin/requests/details/?id={request_id}")
    for step in ("verify_identity", "start", "submit_for_approval"):
        _step(support, step)
    assert _status(live_app, request_id) == "awaiting_approval"

    manager = visit(f"manager-{language}@{DEMO}", language)
    manager.go(f"/admin/requests/details/?id={request_id}")
    manager.screenshot("request")
    # The erasure job holds once started (services.execution.checkpoint) until the test lets it go: the page is
    # shown while the job runs, so "completed" can only appear through the page's own live status.
    monkeypatch.setitem(live_app.config, "JOB_PAUSE_DIR", str(tmp_path))
    (tmp_path / "erasure.before_commit.release").touch()  # only the first checkpoint holds
    (tmp_path / "erasure.started.hold").touch()
    release = tmp_path / "erasure.started.release"
    try:
        _step(manager, "approve")
        expect(manager.page.locator("#live-status .live-step")).to_have_text(
            str(_text(live_app, language, "running")), timeout=LIVE_WAIT_MS)
        assert _status(live_app, request_id) != COMPLETED
        assert manager.page.locator("#request-status").inner_text().strip() != _label(
            live_app, language, COMPLETED, "status")
        release.touch()
        expect(manager.page.locator("#request-status")).to_have_text(
            _label(live_app, language, COMPLETED, "status"), timeout=LIVE_WAIT_MS)
    finally:
        release.touch()  # never leave the shared worker waiting
    manager.page.wait_for_load_state()  # the page reloads itself once the job has ended (static/live_status.js)
    expect(manager.page.locator("#live-status .live-step")).to_have_text(
        str(_text(live_app, language, "done")), timeout=LIVE_WAIT_MS)
    manager.axe()
    manager.go(f"/admin/certificates/{request_id}/")
    manager.screenshot("certificate")
    with manager.page.expect_download() as info:
        manager.page.click("#certificate-download button[value=pdf]")
    path = info.value.path()
    assert open(path, "rb").read(5) == b"%PDF-"
    _no_violations(support, manager)


@pytest.mark.parametrize("language", ["en", "kk"])
def test_statistics_page(visit, language):
    manager = visit(f"manager-{language}@{DEMO}", language)
    manager.go("/admin/statistics/")
    assert manager.page.locator("svg.stat-chart").count() == 7
    manager.screenshot("statistics")
    with manager.page.expect_download() as info:
        manager.page.click("#chart-erasures a.btn")
    assert open(info.value.path(), encoding="utf-8").readline().count(",") >= 1
    _no_violations(manager)


def _filter_arg(app, endpoint, column, value):
    view = next(v for v in app.extensions["backoffice_admin"]._views if v.endpoint == endpoint)
    with app.test_request_context():
        for key, (_index, flt) in view._filter_args.items():
            kind = type(flt).__name__.lower()
            if getattr(flt.column, "key", None) == column and "equal" in kind and "not" not in kind:
                return f"flt0_{key}={value}"
    raise LookupError(column)


@pytest.mark.parametrize("language", ["en", "kk", "ru"])
def test_supervisor_filters_the_audit_log_and_checks_the_chain(visit, live_app, language):
    supervisor = visit(f"supervisor-{language}@{DEMO}", language)
    supervisor.go("/admin/audit/?" + _filter_arg(live_app, "audit", "action", "auth.login"))
    rows = supervisor.page.locator("table.model-list tbody tr")
    assert rows.count() >= 1
    supervisor.page.click("form[action$='/verify/'] button, form[action*='verify'] button")
    supervisor.page.wait_for_load_state()
    supervisor.axe()
    assert supervisor.page.locator(".alert-success").count() == 1, supervisor.page.inner_text(".container-fluid")
    _no_violations(supervisor)


@pytest.mark.parametrize("language", ["en", "kk", "ru"])
def test_admin_sees_a_bad_e_mail_refused(visit, live_app, language):
    from backoffice.models.staff import StaffUser

    admin = visit(f"admin-{language}@{DEMO}", language)
    admin.go("/admin/staff/new/")
    admin.page.fill("#email", "not-an-e-mail")
    admin.page.fill("#full_name", "Browser Test")
    if admin.page.locator("#new_password").count():
        admin.page.fill("#new_password", "a-long-enough-password")
    roles = admin.page.locator("[name=role_list]")
    if roles.first.evaluate("e => e.tagName") == "SELECT":
        roles.first.select_option("support")
    else:
        admin.page.check("[name=role_list][value=support]")
    admin.page.locator("form.admin-form [type=submit]").first.click()
    admin.page.wait_for_load_state()
    admin.axe()
    assert "/admin/staff/new/" in admin.page.url
    # Refused by the server, in the admin's language: under the field, and in the message naming the field.
    reason = _text(live_app, language, "Enter a valid e-mail address.")
    expect(admin.page.locator("#email ~ .invalid-feedback")).to_contain_text(reason)
    expect(admin.page.locator(".alert-danger")).to_contain_text(reason)
    with live_app.app_context():
        assert db.session.execute(select(StaffUser).where(StaffUser.email == "not-an-e-mail")).first() is None
    _no_violations(admin)


def test_support_downloads_an_export_and_its_summary(visit, live_app):
    from backoffice.models.requests import APPROVED
    from backoffice.services import export

    client_id, _phone, _iin = _a_client(live_app)
    with live_app.app_context():
        request = PrivacyRequest(type="access", channel="email", status=APPROVED, client_id=client_id)
        db.session.add(request)
        db.session.commit()
        package_id = export.build_export(request.id)["package_id"]
    support = visit(f"support2@{DEMO}", "kk")
    support.go("/admin/exports/")
    with support.page.expect_download() as info:
        support.page.click(f"a[href$='/admin/exports/{package_id}/download']")
    assert open(info.value.path(), "rb").read(2) == b"PK"
    with support.page.expect_download() as info:
        support.page.click(f"a[href*='/admin/exports/{package_id}/summary?format=pdf']")
    assert open(info.value.path(), "rb").read(5) == b"%PDF-"
    _no_violations(support)


def test_the_scrubbed_campaign_list_downloads_whole_and_leaves_the_server(visit, live_app, tmp_path):
    """Issue 14: the scrub download was cut off in the browser and the files stayed on the server."""
    from backoffice.services import scrub_uploads

    with live_app.app_context():
        emails = list(db.session.execute(select(Client.email).where(Client.status == "active",
                                                                    Client.email.is_not(None))).scalars())
        folder = Path(live_app.instance_path) / "scrub"
    unknown = "nobody-at-all@example.org"
    upload = tmp_path / "campaign.csv"
    upload.write_text("Name;Email\n" + "".join(f"Client {i};{e}\n" for i, e in enumerate(emails))
                      + f"Nobody;{unknown}\n", encoding="utf-8")
    manager = visit(f"manager2@{DEMO}", "kk")
    manager.go("/admin/optouts/scrub/")
    manager.page.set_input_files("#file", str(upload))
    manager.page.locator("main form [type=submit]").click()
    manager.page.wait_for_url(re.compile(r"/scrub/[0-9a-f]{32}/$"))
    upload_id = re.search(r"/scrub/([0-9a-f]{32})/", manager.page.url).group(1)
    manager.axe()
    manager.page.select_option("#email_column", "1")
    manager.page.select_option("#channel", "email")
    manager.page.locator("main form [type=submit]").click()
    download_link = manager.page.locator("a[href$='/download/']")
    expect(download_link).to_be_visible(timeout=LIVE_WAIT_MS)  # the progress page refreshes itself to the result
    manager.axe()
    with live_app.app_context():
        expected = scrub_uploads.output_path(upload_id).read_bytes()
    lines = expected.decode("utf-8").splitlines()
    assert lines[0] == "Name;Email" and unknown not in expected.decode() and len(lines) > 1
    with manager.page.expect_download() as info:
        download_link.click()
    assert info.value.failure() is None
    assert Path(info.value.path()).read_bytes() == expected
    assert sorted(p.name for p in folder.glob(f"{upload_id}.*")) == []
    _no_violations(manager)
