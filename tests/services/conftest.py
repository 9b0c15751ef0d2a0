"""Fixtures for the request workflow: staff in each role and a queue that records what was enqueued."""
import pytest


class RecordingWorker:
    """Stands in for the embedded worker: records (function, ids, job id) instead of running jobs."""

    def __init__(self):
        self.calls = []

    def submit(self, func_path, ids, job_id):
        self.calls.append((func_path, tuple(ids), job_id))


@pytest.fixture
def queue(app):
    worker = RecordingWorker()
    app.extensions["embedded_worker"] = worker
    yield worker
    app.extensions.pop("embedded_worker", None)


@pytest.fixture
def team(make_staff):
    class Team:
        support = make_staff("support")
        support2 = make_staff("support")
        manager = make_staff("manager")
        manager2 = make_staff("manager")
        supervisor = make_staff("supervisor")
        admin = make_staff("admin")
    return Team
