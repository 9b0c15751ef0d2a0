"""RQ entry point for the campaign scrub (policy 3.2.2): the upload id in, services.scrub_runs does the work."""
from ..services import scrub_runs
from .base import run_maintenance_job


def scrub_campaign_list(upload_id):
    """Scrub one uploaded campaign list on every core of this worker, with progress for the waiting page."""
    return run_maintenance_job(scrub_runs.execute, upload_id=upload_id)
