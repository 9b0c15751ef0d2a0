"""The daily retention run: records past their period are deleted or depersonalised for everyone (policy 3.1;
Law 94-V art. 7, 12), not only for clients who asked.

Each record type is worked through in bounded batches of ids (one short transaction per batch, never a
10-minute one), walking the primary key forward so that no batch re-reads what the previous one passed. The
statements are the set-based ones erasure uses (the same depersonalised values, the same year arithmetic);
blocked clients' records are left alone (art. 1(3): blocking stops destruction too), and so are tickets not
yet flown (art. 8(2)). A dry run counts the same rows and changes nothing. The run report holds counts, rules
and durations only.
"""
import time
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, null, or_, select, update

from ..extensions import db
from ..models.base import utcnow
from ..models.clients import BLOCKED, Client
from ..models.records import Booking, Communication
from ..models.requests import CLOSED_STATUSES, PrivacyRequest
from ..models.retention import DELETE, DEPERSONALISE, RetentionRule
from ..models.retention_runs import RetentionRun
from . import audit
from .erasure import DEPERSONALISED, local_today, years_before
from .retention import DEFAULT_LIMITS, ensure_default_rules

BATCH_SIZE = 5000


@dataclass(frozen=True)
class Target:
    """How the run finds one record type's rows past their period, and what each action does to them."""

    model: type
    dated: object  # the column the period counts from
    values: dict | None  # depersonalisation (None: the type can only be deleted)
    still_personal: object = None  # rows depersonalisation has not reached yet (so a second run is a no-op)
    extra: object = None  # further conditions (closed requests, flown tickets)


def _not_blocked(client_column):
    blocked = exists().where(Client.id == client_column, Client.status == BLOCKED)
    return or_(client_column.is_(None), ~blocked)


def targets(today):
    return {
        "booking": Target(
            Booking, Booking.issued_at,
            {"passenger_name": DEPERSONALISED, "document_number": None, "client_id": None,
             "depersonalised_at": utcnow()},
            still_personal=Booking.client_id.is_not(None) | (Booking.passenger_name != DEPERSONALISED),
            extra=Booking.flight_date < today),
        "communication": Target(Communication, Communication.sent_at, None),
        "privacy_request": Target(
            PrivacyRequest, func.coalesce(PrivacyRequest.completed_at, PrivacyRequest.received_at),
            {"requester_name": None, "requester_email": None, "requester_phone": None, "description": None,
             "payload": null()},  # SQL NULL, not the JSON null a plain None would store
            still_personal=or_(PrivacyRequest.requester_name.is_not(None),
                               PrivacyRequest.requester_email.is_not(None),
                               PrivacyRequest.requester_phone.is_not(None),
                               PrivacyRequest.description.is_not(None), PrivacyRequest.payload.is_not(None)),
            extra=PrivacyRequest.status.in_(CLOSED_STATUSES)),
    }


def limits(session=None):
    """[(record type, keep years, action, legal reference)] the run applies, from the editable rules."""
    session = session or db.session
    rows = {r.record_type: r for r in session.execute(select(RetentionRule)).scalars()}
    result = []
    for record_type in ("booking", "communication", "privacy_request"):
        row = rows.get(record_type)
        if row is not None:
            keep, action, reference = row.keep_years, row.after_period, row.legal_reference
        else:
            (keep, action), reference = DEFAULT_LIMITS[record_type], ""
        if keep is not None and keep >= 0 and action in (DELETE, DEPERSONALISE):
            result.append((record_type, keep, action, reference))
    return result


def _condition(target, cutoff, action):
    parts = [target.dated < cutoff, _not_blocked(target.model.client_id)]
    if target.extra is not None:
        parts.append(target.extra)
    if action == DEPERSONALISE and target.still_personal is not None:
        parts.append(target.still_personal)
    return and_(*parts)


def _apply(target, condition, action, batch_size):
    """Delete or depersonalise the matching rows batch by batch, committing each; returns (rows, batches)."""
    model, pk = target.model, target.model.id
    last_id, rows, batches = 0, 0, 0
    while True:
        ids = db.session.execute(select(pk).where(condition, pk > last_id).order_by(pk).limit(batch_size)
                                 ).scalars().all()
        if not ids:
            break
        # The id range of the batch with the condition again (a row changed since the read stays): a range scan,
        # not a list of 5,000 bound parameters.
        chosen = and_(pk > last_id, pk <= ids[-1], condition)
        if action == DELETE:
            statement = delete(model).where(chosen)
        else:
            statement = update(model).where(chosen).values(**target.values)
        rows += db.session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0
        db.session.commit()
        batches += 1
        last_id = ids[-1]
        if len(ids) < batch_size:
            break
    return rows, batches


def run(dry_run=False, trigger="periodic", today=None, batch_size=BATCH_SIZE, by=None):
    """Apply every retention limit to everyone; returns the RetentionRun with its report (policy 3.1)."""
    if ensure_default_rules():
        db.session.commit()
    today = today or local_today()
    run_row = RetentionRun(dry_run=dry_run, trigger=trigger[:20], status="running", started_at=utcnow())
    db.session.add(run_row)
    db.session.commit()
    report, total = [], 0
    all_targets = targets(today)
    for record_type, keep_years, action, reference in limits():
        target = all_targets[record_type]
        if action == DEPERSONALISE and target.values is None:
            action = DELETE
        cutoff = years_before(today, keep_years)
        condition = _condition(target, cutoff, action)
        started = time.perf_counter()
        if dry_run:
            rows = db.session.execute(select(func.count()).select_from(target.model).where(condition)).scalar()
            batches = 0
            db.session.rollback()
        else:
            rows, batches = _apply(target, condition, action, batch_size)
        total += rows
        report.append({"record_type": record_type, "action": action, "keep_years": keep_years,
                       "legal_reference": reference, "cutoff": cutoff.isoformat(), "rows": rows,
                       "batches": batches, "seconds": round(time.perf_counter() - started, 3)})
    run_row = db.session.get(RetentionRun, run_row.id)
    run_row.report, run_row.total_rows, run_row.status, run_row.finished_at = report, total, "finished", utcnow()
    audit.record("retention.run", object_type="retention_run", object_id=run_row.id, actor=by,
                 details={"dry_run": dry_run, "trigger": run_row.trigger,
                          "rows": {item["record_type"]: item["rows"] for item in report}})
    db.session.commit()
    return run_row


def recent_runs(limit=100):
    return db.session.execute(select(RetentionRun).order_by(RetentionRun.id.desc()).limit(limit)).scalars().all()


def get_run(run_id):
    return db.session.get(RetentionRun, run_id) if isinstance(run_id, int) else None


def describe(run_row):
    """One line per record type for the CLI and logs (counts only)."""
    verb = "would change" if run_row.dry_run else "changed"
    parts = [f"{item['record_type']}: {item['action']} {item['rows']}" for item in run_row.report or []]
    return f"retention run #{run_row.id} {verb} {run_row.total_rows} row(s) ({'; '.join(parts) or 'no rules'})"
