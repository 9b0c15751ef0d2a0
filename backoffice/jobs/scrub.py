"""RQ entry points for the campaign scrub (policy 3.2.2): the upload id in, services.scrub_runs does the work;
the periodic purge of files left behind."""
from ..services import scrub_runs, scrub_uploads
from .base import run_maintenance_job


def scrub_campaign_list(upload_id):
    """Scrub one uploaded campaign list on every core of this worker, with progress for the waiting page."""
    return run_maintenance_job(scrub_runs.execute, upload_id=upload_id)


def purge_scrub_files():
    """Delete campaign lists and results nobody downloaded within SCRUB_FILE_TTL_MINUTES (periodic)."""
    return run_maintenance_job(scrub_uploads.purge_stale)
