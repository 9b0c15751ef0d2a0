"""The job commands: reconcile, cleanup-exports, worker (embedded mode)."""
import datetime as dt

from backoffice.extensions import db
from backoffice.models.requests import COMPLETED, PrivacyRequest
from tests.jobfactories import approved_request, seeded_client


def test_reconcile_command_queues_and_runs_lost_work_in_embedded_mode(app, make_staff):
    client, _ = seeded_client("cli", 1)
    request = approved_request(client, "erasure", by=make_staff("manager"))
    db.session.execute(PrivacyRequest.__table__.update().where(PrivacyRequest.id == request.id)
                       .values(updated_at=dt.datetime(2020, 1, 1)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["reconcile"])
    assert result.exit_code == 0 and f"Re-queued 1 request(s): {request.id}" in result.output
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, request.id).status == COMPLETED


def test_cleanup_command(app):
    result = app.test_cli_runner().invoke(args=["cleanup-exports"])
    assert result.exit_code == 0 and "Deleted 0 expired" in result.output


def test_worker_command_needs_redis(app):
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code != 0 and "REDIS_URL is not set" in result.output
