"""Periodic jobs: keep the queue in step with the database, delete expired export files."""
from ..services import blocking, execution, export
from .base import run_maintenance_job


def reconcile():
    """Re-queue approved/executing requests whose job was lost."""
    return run_maintenance_job(execution.reconcile)


def cleanup_exports():
    """Delete expired export packages and files left behind (policy 5.4)."""
    return run_maintenance_job(export.cleanup_expired)


def lift_expired_blocks():
    """Unblock clients whose block has ended (Law No. 94-V art. 1(3); policy 5.2)."""
    return run_maintenance_job(blocking.lift_expired_blocks)
