"""RQ entry points for the opt-out CSV import (policy 3.2.2): the run's id in, services.optout_import_runs works."""
from ..services import optout_import_runs
from .base import run_maintenance_job, run_recorded_job


def import_opt_outs(import_id):
    """Check every row of one uploaded opt-out file, then import it in batches, with progress for its page."""
    return run_recorded_job("optout_import", import_id, optout_import_runs.execute, optout_import_runs.mark_failed,
                            what="optout import")


def maintain_imports():
    """Re-queue imports whose job was lost; end abandoned ones and delete their files (periodic)."""
    return run_maintenance_job(optout_import_runs.maintain)
