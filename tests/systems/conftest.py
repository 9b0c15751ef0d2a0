"""Fixtures for the data-map tests: a real booking-site database, a real webhook receiver on 127.0.0.1, and the
systems of the map wired to them through environment variables (never stored)."""
import pytest
from sqlalchemy import select

from backoffice.demo_receiver import Receiver
from backoffice.extensions import db
from backoffice.models.systems import MANUAL, SQL, WEBHOOK, DataSystem, SystemTask
from backoffice.services import datamap
from tests.factories import make_client
from tests.systems.sites import DATASET, sqlite_site

SECRET = "test-webhook-secret"


@pytest.fixture
def app_config(app_config):
    app_config.update(WEBHOOK_ATTEMPTS=2, WEBHOOK_BACKOFF_SECONDS=0, WEBHOOK_READ_TIMEOUT_SECONDS=2,
                      WEBHOOK_CONNECT_TIMEOUT_SECONDS=2, JOB_RETRY_INTERVALS=[3600],
                      PUBLIC_URL="http://127.0.0.1:5999")
    return app_config


@pytest.fixture
def worker(app):
    return app.extensions["embedded_worker"]


@pytest.fixture
def receiver(monkeypatch):
    monkeypatch.setenv("MAILER_WEBHOOK_SECRET", SECRET)
    server = Receiver(SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def site_url(tmp_path, monkeypatch):
    with sqlite_site(tmp_path) as url:
        monkeypatch.setenv("BOOKING_SITE_DB_URL", url)
        yield url


def add_system(**fields):
    fields.setdefault("owner", "Owner")
    fields.setdefault("request_types", ["erasure", "consent_withdrawal", "access"])
    system = datamap.validate(DataSystem(**fields))
    db.session.add(system)
    db.session.commit()
    return system


@pytest.fixture
def data_map(app, site_url, receiver):
    """System #1 (back-office), the booking site (SQL), a mailer (webhook) and a paper archive (manual)."""
    datamap.ensure_backoffice_system()
    db.session.commit()
    site = add_system(name="Booking site", kind=SQL, connection_env="BOOKING_SITE_DB_URL", dataset=DATASET)
    mailer = add_system(name="Mailer", kind=WEBHOOK, webhook_url=receiver.url, secret_env="MAILER_WEBHOOK_SECRET",
                        dataset={"identifiers": ["email"]}, country="DE")
    archive = add_system(name="Paper archive", kind=MANUAL, owner="Records office")
    return {"site": site, "mailer": mailer, "archive": archive}


@pytest.fixture
def subject(app):
    """A back-office client who is also on the booking site (same e-mail and phone)."""
    return make_client(full_name="Zhanar Siteova", email="Zhanar.Site@mail.kz", phone="+7 701 555 12 34")


def task_of(request, system):
    """The request's task in this system."""
    return db.session.execute(select(SystemTask).where(SystemTask.request_id == request.id,
                                                       SystemTask.system_id == system.id)).scalar_one()


def run_jobs(worker):
    """Run queued jobs until none is left (a settled system queues the next ones)."""
    while worker.drain():
        pass
    db.session.expire_all()
