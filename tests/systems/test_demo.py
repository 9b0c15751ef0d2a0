"""The demo's data map: approving the seeded erasure fans out to the booking site, the mailer and the archive."""
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.requests import AWAITING_APPROVAL, COMPLETED, ERASURE, PrivacyRequest
from backoffice.models.systems import SystemTask
from backoffice.services import demo, demo_systems, fanout
from backoffice.services.steps import take_step
from backoffice.services import staff as staff_service
from tests.systems.sites import rows


def test_demo_erasure_fans_out_end_to_end(app, worker, receiver, tmp_path, monkeypatch):
    monkeypatch.delenv(demo_systems.SITE_URL_ENV, raising=False)
    monkeypatch.setenv(demo_systems.MAILER_SECRET_ENV, "test-webhook-secret")
    demo_systems.configure_environment(tmp_path / "instance")
    demo.seed_demo("demo-pass-123456", clients=40)
    copied = demo_systems.seed_demo_systems(receiver.url)
    db.session.commit()
    assert copied >= 1
    waiting = db.session.execute(select(PrivacyRequest).where(PrivacyRequest.type == ERASURE,
                                                              PrivacyRequest.status == AWAITING_APPROVAL)).scalar_one()
    email = waiting.client.email_norm
    site_url = f"sqlite:///{tmp_path / 'instance' / 'booking-site.db'}"
    assert rows(site_url, f"SELECT count(*) FROM customers WHERE email_addr = '{email}'") == [(1,)]

    manager = staff_service.find_by_email("manager@demo.local")
    take_step(waiting, "approve", manager, comment="Checked: no retention obligation")
    while worker.drain():
        pass
    archive = db.session.execute(select(SystemTask).join(SystemTask.system).where(
        SystemTask.request_id == waiting.id, SystemTask.status == "waiting")).scalar_one()
    fanout.confirm_manual(archive.id, waiting.id, manager, "No paper folder for this client")
    while worker.drain():
        pass
    db.session.expire_all()
    done = db.session.get(PrivacyRequest, waiting.id)
    assert done.status == COMPLETED
    assert {row["system"] for row in done.certificate["systems"]} == {
        "Back-office database", "Booking site (demo)", "Mailer (demo webhook)", "Paper archive"}
    assert rows(site_url, f"SELECT count(*) FROM customers WHERE email_addr = '{email}'") == [(0,)]


def test_demo_blocking_reaches_the_booking_site_and_the_mailer(app, worker, receiver, tmp_path, monkeypatch):
    from backoffice.models.requests import BLOCKING, EXECUTING

    monkeypatch.delenv(demo_systems.SITE_URL_ENV, raising=False)
    monkeypatch.setenv(demo_systems.MAILER_SECRET_ENV, "test-webhook-secret")
    demo_systems.configure_environment(tmp_path / "instance")
    demo.seed_demo("demo-pass-123456", clients=40)
    demo_systems.seed_demo_systems(receiver.url)
    block = db.session.execute(select(PrivacyRequest).where(PrivacyRequest.type == BLOCKING)).scalar_one()
    email = block.client.email_norm
    site_url = f"sqlite:///{tmp_path / 'instance' / 'booking-site.db'}"
    assert rows(site_url, f"SELECT on_hold FROM customers WHERE email_addr = '{email}'") == [(0,)]

    take_step(block, "approve", staff_service.find_by_email("manager@demo.local"), comment="Accuracy disputed")
    take_step(block, "complete", staff_service.find_by_email("support@demo.local"))
    assert db.session.get(PrivacyRequest, block.id).status == EXECUTING
    while worker.drain():
        pass
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, block.id).status == COMPLETED
    assert rows(site_url, f"SELECT on_hold FROM customers WHERE email_addr = '{email}'") == [(1,)]
    assert [body["type"] for _, body in receiver.calls] == ["blocking"]
