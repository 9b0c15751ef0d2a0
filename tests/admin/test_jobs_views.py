"""The Jobs view, erasure certificates and export downloads, through HTTP with each role."""
import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.jobs import ExportPackage
from backoffice.models.requests import APPROVED, PrivacyRequest
from backoffice.services import erasure, export, jobqueue
from tests.jobfactories import approved_request, seeded_client


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def certificate_request(app, manager):
    client, strings = seeded_client("view", 1)
    request = approved_request(client, "erasure", by=manager)
    erasure.erase_client(request.id, job_id="job-cert")
    return request.id, strings


@pytest.mark.parametrize("role,status", [("manager", 200), ("supervisor", 200), ("support", 403), ("admin", 403)])
def test_certificate_view_and_download_by_role(client, login_as, certificate_request, role, status):
    request_id, strings = certificate_request
    login_as(role)
    page = client.get(f"/admin/certificates/{request_id}/")
    download = client.get(f"/admin/certificates/{request_id}/download")
    assert page.status_code == status and download.status_code == status
    if status == 200:
        assert "job-cert" in page.get_data(as_text=True)
        assert download.headers["Content-Disposition"].startswith("attachment")
        body = download.get_data(as_text=True)
        assert "Communications" in body and not any(value in body for value in strings)


@pytest.fixture
def package(app, manager):
    client, _ = seeded_client("dl", 2)
    request = approved_request(client, "access", by=manager)
    return db.session.get(ExportPackage, export.build_export(request.id)["package_id"])


@pytest.mark.parametrize("role,status", [("support", 200), ("manager", 200), ("supervisor", 403), ("admin", 403)])
def test_export_download_by_role_and_audited(client, login_as, package, role, status):
    login_as(role)
    response = client.get(f"/admin/exports/{package.id}/download")
    assert response.status_code == status
    downloads = db.session.execute(select(AuditEvent).where(AuditEvent.action == "export.download")).scalars().all()
    if status == 200:
        assert response.data[:2] == b"PK" and len(downloads) == 1 and downloads[0].object_id == str(package.id)
        assert package.sha256 in client.get("/admin/exports/").get_data(as_text=True)
    else:
        assert downloads == []


def test_expired_export_is_not_downloadable(client, login_as, package):
    import datetime as dt

    export.cleanup_expired(now=package.expires_at + dt.timedelta(seconds=1))
    login_as("support")
    response = client.get(f"/admin/exports/{package.id}/download")
    assert response.status_code == 302


def _failed_job(manager):
    client, _ = seeded_client("jobv", 3)
    client.status = "blocked"
    db.session.commit()
    request = approved_request(client, "erasure", by=manager)
    request_id = request.id
    job_id = jobqueue.enqueue_request_job(request_id)
    from flask import current_app

    current_app.extensions["embedded_worker"].drain()
    db.session.expire_all()
    return request_id, job_id


def test_jobs_view_lists_failed_jobs_and_manager_retries(client, login_as, manager):
    request_id, job_id = _failed_job(manager)
    login_as("manager")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert job_id[:12] in page and "blocked" in page and "Retry" in page
    # While the client is blocked the retry is refused with the reason (Law art. 1(3)) and nothing changes.
    response = client.post(f"/admin/jobs/retry/{job_id}", follow_redirects=True)
    assert response.status_code == 200 and db.session.get(PrivacyRequest, request_id).status == "failed"
    assert "until the block is lifted" in response.get_data(as_text=True)
    # Once the block is lifted, the manager's retry queues it again.
    request = db.session.get(PrivacyRequest, request_id)
    request.client.status = "active"
    db.session.commit()
    response = client.post(f"/admin/jobs/retry/{job_id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request_id).status == APPROVED


def test_supervisor_sees_jobs_but_cannot_retry(client, login_as, manager):
    request_id, job_id = _failed_job(manager)
    login_as("supervisor")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert job_id[:12] in page and "Retry" not in page
    assert client.post(f"/admin/jobs/retry/{job_id}").status_code == 403
    assert db.session.get(PrivacyRequest, request_id).status == "failed"


def test_retry_of_an_unknown_job_explains(client, login_as):
    login_as("manager")
    response = client.post("/admin/jobs/retry/nope", follow_redirects=True)
    assert response.status_code == 200 and "no such job" in response.get_data(as_text=True)


@pytest.mark.parametrize("role,shown", [("manager", True), ("supervisor", True), ("support", False)])
def test_request_page_links_the_certificate_for_roles_that_may_read_it(client, login_as, certificate_request, role,
                                                                       shown):
    request_id, _ = certificate_request
    login_as(role)
    page = client.get(f"/admin/requests/details/?id={request_id}").get_data(as_text=True)
    assert (f"/admin/certificates/{request_id}/" in page) is shown


@pytest.mark.parametrize("role,shown", [("support", True), ("manager", True), ("supervisor", False)])
def test_request_page_offers_the_export_download_to_handlers_only(client, login_as, package, role, shown):
    login_as(role)
    page = client.get(f"/admin/requests/details/?id={package.request_id}").get_data(as_text=True)
    assert (f"/admin/exports/{package.id}/download" in page) is shown
