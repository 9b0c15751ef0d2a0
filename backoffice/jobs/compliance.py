"""Periodic compliance jobs: the daily retention run and the expiry of disclosure grants (issue 15)."""
from ..services import disclosures, retention_runs
from .base import run_maintenance_job


def _retention(dry_run=False, trigger="periodic"):
    run = retention_runs.run(dry_run=dry_run, trigger=trigger)
    return {"run_id": run.id, "dry_run": run.dry_run, "rows": {i["record_type"]: i["rows"] for i in run.report},
            "summary": retention_runs.describe(run)}


def apply_retention(dry_run=False, trigger="periodic"):
    """Delete or depersonalise every record past its retention period, for everyone (policy 3.1)."""
    return run_maintenance_job(_retention, dry_run=dry_run, trigger=trigger)


def expire_grants():
    """End disclosure grants past their expiry date (policy 4.1)."""
    return run_maintenance_job(disclosures.expire_due)
