"""Erase a client's personal data (policy 5.2, 5.3): delete what may go, depersonalise what the law keeps.

All of it happens in ONE transaction with set-based statements (UPDATE/DELETE ... WHERE client_id = :id), so a
crash leaves the client untouched or fully erased, and thousands of records take milliseconds. Running it again
for the same request is a no-op that succeeds. The erasure certificate (no personal data) is stored on the request.
"""
import datetime as dt
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import delete, func, or_, select, update

from .. import system_notes
from ..extensions import db
from ..identifiers import normalise_email, normalise_phone, try_normalise
from ..models.base import utcnow
from ..models.clients import BLOCKED, ERASED, Client, ClientAccount
from ..models.consent import MARKETING, Consent
from ..models.disclosures import DisclosureGrant
from ..models.jobs import ExportPackage
from ..models.optouts import MarketingOptOut
from ..models.records import Booking, Communication
from ..models.requests import CONSENT_WITHDRAWAL, ERASURE, PrivacyRequest, RequestEvent
from ..models.retention import DELETE
from ..models.systems import BACKOFFICE, SystemTask
from . import audit, erasure_check, execution, fanout, letters, mail_records
from .optouts import address_hash as keyed_hash
from .retention import effective_rules

log = logging.getLogger("backoffice.jobs")

DEPERSONALISED = "[depersonalised]"
REDACTED = "[redacted]"
# Free text people type on a request (identity notes, comments, outcomes, reasons): redacted on erasure, while
# who / when / which step stays (docs/jobs.md, "What erasure does to the request history").
REQUEST_FREE_TEXT = ("outcome", "rejection_reason", "extension_reason")
# Disclosure register (policy 4.1): the proof of a disclosure is its date, recipient category and legal basis.
# Every other text column (recipient name, scope, ...) is personal data of the client or of a third person.
DISCLOSURE_KEPT_TEXT = frozenset({"recipient_category", "legal_basis", "legal_reference"})
ART_8_2 = "Law No. 94-V art. 8(2)"
ART_1_3 = "Law No. 94-V art. 1(3)"


class ErasureRefused(execution.ExecutionError):
    """Erasure may not happen now (e.g. the client is blocked); the request fails with this reason."""


def erasure_blocker(client):
    """Why this client cannot be erased right now, or None (the UI can show it before approval)."""
    if client is None:
        return _l("The request is not linked to a client.")
    if client.status == BLOCKED:
        return _l("The client's data is blocked (%(ref)s): blocking stops destruction too. "
                  "Lift the block first, then retry.", ref=system_notes.LegalReference("law94.art1_3"))
    return None


def erase_client(request_id, job_id=None, today=None):
    """Erase the client's account and personal-data records (policy 5.3); depersonalise retained bookings.

    Returns a small summary (ids and counts). Raises ErasureRefused for a blocked client (art. 1(3)).
    """
    # One transaction: the executing step, the work and the completion commit together (a crash leaves the request
    # approved and untouched; reconcile re-queues it). Audit events join the chain at the commit, so the chain's
    # lock is held for a few statements, not the whole erasure (workers side by side do not queue on it).
    today = today or local_today()
    # Test hook (no-op unless JOB_PAUSE_DIR is set): the job has started and holds no transaction yet, so the pages
    # stay usable while a browser test watches the request's live status.
    execution.checkpoint("erasure.started", optional=True)
    with audit.appended_at_commit():
        try:
            summary = erase_in_transaction(request_id, job_id, today)
        except ErasureRefused:
            db.session.rollback()
            raise
        if summary["noop"]:
            db.session.rollback()
            return summary
        execution.checkpoint("erasure.before_commit")
        db.session.commit()
    return after_commit(summary, today)


def erase_in_transaction(request_id, job_id, today, owner=None):
    """One request's erasure in the current transaction (neither commit nor rollback): its summary, or a no-op.

    `owner`: a batch member's own job record; if the request was queued again under another job, that job does it.
    """
    privacy_request = execution.claim_locked(request_id, (ERASURE, CONSENT_WITHDRAWAL))
    if privacy_request is None or (owner is not None and privacy_request.job_id not in (None, owner)):
        return {"request_id": request_id, "noop": True}
    client = db.session.execute(
        select(Client).where(Client.id == privacy_request.client_id).with_for_update(of=Client)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none() if privacy_request.client_id else None
    if erasure_blocker(client) is not None:
        # The stored reason is a note (the Jobs view shows it in the reader's language).
        raise ErasureRefused(_l("Refused: the client is blocked (%(law)s); lift the block, then queue the job again.",
                                law=system_notes.LegalReference("law94.art1_3"))
                             if client is not None else _l("The request is not linked to a client."),
                             code="blocked" if client is not None else "no_client")
    waiting = fanout.blocking_tasks(request_id, privacy_request.type)
    if waiting:
        # The other systems go first (services.fanout); their settling queues this job again.
        return {"request_id": request_id, "noop": True, "waiting_on": [task.system.name for task in waiting]}
    execution.mark_executing(privacy_request, job_id)
    # Held in memory only, to check the erasure's own work after the commit; never stored or logged.
    identifiers = erasure_check.identifiers_of(client)
    summary = _erase(privacy_request, client, today, utcnow(), job_id)
    summary["_identifiers"] = identifiers
    return summary


def after_commit(summary, today, commit=True):
    """Files go once the erasure is committed (a file cannot be rolled back); then the erasure checks itself."""
    remove_files(summary)
    summary["verification"] = erasure_check.verify(summary["request_id"], summary["client_id"],
                                                   summary.pop("_identifiers"), today, commit=commit)
    return summary


def remove_files(summary):
    """Delete the erased client's files (export packages, mail evidence) once the erasure is committed."""
    _unlink(summary.pop("_files", ()))


def _count(statement):
    return db.session.execute(statement).rowcount or 0


def _erase(privacy_request, client, today, started_at, job_id):
    cid, rid, now = client.id, privacy_request.id, utcnow()
    rules = effective_rules()
    deleted, depersonalised, exceptions = {}, {}, []
    opt_out = _opt_out_state(client)

    # Art. 8(2): a ticket not yet flown is an unfulfilled obligation; its booking stays as it is.
    unflown = db.session.execute(select(func.count()).select_from(Booking)
                                 .where(Booking.client_id == cid, Booking.flight_date >= today)).scalar()
    if unflown:
        exceptions.append({"record_type": "booking", "reason": "unflown_ticket", "count": unflown,
                           "legal_reference": ART_8_2})

    booking_rule = rules["booking"]
    flown = (Booking.client_id == cid) & (Booking.flight_date < today)
    if booking_rule.action == DELETE or booking_rule.period_years <= 0:
        deleted["booking"] = _count(delete(Booking).where(flown))
    else:
        cutoff = years_before(today, booking_rule.period_years)
        depersonalised["booking"] = _count(
            update(Booking).where(flown, Booking.issued_at >= cutoff)
            .values(passenger_name=DEPERSONALISED, document_number=None, client_id=None, depersonalised_at=now)
            .execution_options(synchronize_session=False))
        deleted["booking"] = _count(delete(Booking).where(flown, Booking.issued_at < cutoff)
                                    .execution_options(synchronize_session=False))

    deleted["client_account"] = _count(delete(ClientAccount).where(ClientAccount.client_id == cid)
                                       .execution_options(synchronize_session=False))
    deleted["communication"] = _count(delete(Communication).where(Communication.client_id == cid)
                                      .execution_options(synchronize_session=False))
    deleted["consent"] = _count(delete(Consent).where(Consent.client_id == cid)
                                .execution_options(synchronize_session=False))

    # The client's requests stay as proof they were handled; what the requester wrote about themselves goes.
    client_requests = select(PrivacyRequest.id).where(PrivacyRequest.client_id == cid).scalar_subquery()
    files = db.session.execute(
        select(ExportPackage.path).where(ExportPackage.request_id.in_(client_requests),
                                         ExportPackage.deleted_at.is_(None))).scalars().all()
    # [mail] issue 12: the client's e-mails, their attachments and our letters go too (services/mail_records.py).
    mail_deleted, mail_files, notify_address = mail_records.erase_client_mail(client, privacy_request)
    deleted.update(mail_deleted)
    files = files + mail_files
    deleted["export_package"] = _count(
        update(ExportPackage).where(ExportPackage.request_id.in_(client_requests), ExportPackage.deleted_at.is_(None))
        .values(deleted_at=now).execution_options(synchronize_session=False))
    personal = or_(PrivacyRequest.requester_name.is_not(None), PrivacyRequest.requester_email.is_not(None),
                   PrivacyRequest.requester_phone.is_not(None), PrivacyRequest.description.is_not(None))
    touched = set(db.session.execute(
        select(PrivacyRequest.id).where(PrivacyRequest.client_id == cid, personal)).scalars())
    _count(update(PrivacyRequest).where(PrivacyRequest.client_id == cid, personal)
           .values(requester_name=None, requester_email=None, requester_phone=None, description=None)
           .execution_options(synchronize_session=False))
    # Payload keys say what was asked (kept); their values are the client's data (dropped). A client has few requests.
    for request_row in db.session.execute(
            select(PrivacyRequest).where(PrivacyRequest.client_id == cid, PrivacyRequest.payload.is_not(None))
            .execution_options(populate_existing=True)).scalars():
        stripped = _keys_only(request_row.payload)
        if stripped != request_row.payload:
            request_row.payload = stripped
            touched.add(request_row.id)
    depersonalised["privacy_request"] = len(touched)
    redacted = _redact_request_free_text(client_requests)

    depersonalised["disclosure_grant"] = _depersonalise_disclosures(cid, now)

    depersonalised["marketing_opt_out"] = _depersonalise_opt_outs(opt_out, rid)

    tombstone = {
        "full_name": None, "name_key": None, "email": None, "email_norm": None, "phone": None, "phone_e164": None,
        "iin": None, "date_of_birth": None, "position": None, "agency_id": None, "blocked_until": None,
        "status": ERASED, "erased_at": client.erased_at or now, "erasure_request_id": client.erasure_request_id or rid,
        "updated_at": now, "version": Client.version + 1,
    }
    was_erased = client.status == ERASED
    _count(update(Client).where(Client.id == cid).values(**tombstone).execution_options(synchronize_session=False))
    depersonalised["client"] = 0 if was_erased else 1

    redacted += _count(update(SystemTask).where(SystemTask.request_id.in_(client_requests),
                                                SystemTask.comment.is_not(None), SystemTask.comment != REDACTED)
                       .values(comment=REDACTED).execution_options(synchronize_session=False))

    deleted = {k: v for k, v in deleted.items() if v}
    depersonalised = {k: v for k, v in depersonalised.items() if v}
    tasks = fanout.settle_in_transaction(rid, (BACKOFFICE,), lambda task: {
        "deleted": sum(deleted.values()), "depersonalised": sum(depersonalised.values())})
    exceptions.extend(fanout.exceptions_for_certificate(rid, tasks))
    outcome_kind = "partial" if exceptions else "complete"
    certificate = {
        "kind": "erasure_certificate",
        "request_id": rid,
        "request_type": privacy_request.type,
        "client_id": cid,
        "outcome": outcome_kind,
        "deleted": deleted,
        "depersonalised": depersonalised,
        "exceptions": exceptions,
        "rules_applied": [rules[name].as_dict() for name in sorted(set(deleted) | set(depersonalised) |
                                                                   {e["record_type"] for e in exceptions})
                          if name in rules],
        "opt_out_kept_as_hash": bool(opt_out["had_opted_out"]),
        "free_text_redacted": redacted,
        "systems": fanout.results_for_certificate(rid, tasks),
        "requested_by_staff_id": privacy_request.created_by_id,
        "approved_by_staff_id": privacy_request.approved_by_id,
        "approved_at": privacy_request.approved_at.isoformat() if privacy_request.approved_at else None,
        "requester": f"data subject (client #{cid})",
        "received_at": privacy_request.received_at.isoformat() if privacy_request.received_at else None,
        "job_id": job_id,
        "started_at": started_at.isoformat(),
        "finished_at": utcnow().isoformat(),
    }
    if unflown:
        outcome = system_notes.note(lazy_ngettext(
            "Partial: %(num)d booking for a flight not yet flown was kept (%(law)s); everything else was erased. "
            "Tell the client; a new request after the flight completes the erasure.",
            "Partial: %(num)d bookings for flights not yet flown were kept (%(law)s); everything else was erased. "
            "Tell the client; a new request after the flights completes the erasure.",
            unflown, law=system_notes.LegalReference("law94.art8_2")))
    elif exceptions:
        outcome = system_notes.note(_l("Partial: a system is recorded as unable to erase (see the certificate); "
                                       "everything else was erased."))
    else:
        outcome = system_notes.note(_l("Erased: personal data deleted, retained records depersonalised."))
    # The personal-data change itself, on the client (policy 4.3); the request's completion follows.
    audit.record("client.erase", object_type="client", object_id=cid, request_id=rid,
                 details={"deleted": deleted, "depersonalised": depersonalised, "outcome": outcome_kind,
                          "job_id": job_id})
    letters.queue_erasure_completion(privacy_request, certificate, notify_address)  # [mail] issue 12
    execution.mark_completed(privacy_request, outcome, certificate=certificate,
                             details={"deleted": deleted, "depersonalised": depersonalised,
                                      "outcome": outcome_kind})
    db.session.flush()  # expiring unflushed changes would drop them (the job record's "finished")
    db.session.expire_all()
    return {"request_id": rid, "client_id": cid, "noop": False, "outcome": outcome_kind, "deleted": deleted,
            "depersonalised": depersonalised, "_files": files}


def _redact_request_free_text(client_requests):
    """Free text on the client's requests and their timeline becomes [redacted]; actor, time and step stay."""
    count = _count(update(RequestEvent).where(RequestEvent.request_id.in_(client_requests),
                                              RequestEvent.comment.is_not(None), RequestEvent.comment != REDACTED)
                   .values(comment=REDACTED).execution_options(synchronize_session=False))
    for name in REQUEST_FREE_TEXT:
        column = getattr(PrivacyRequest, name)
        count += _count(update(PrivacyRequest).where(PrivacyRequest.id.in_(client_requests), column.is_not(None),
                                                     column != REDACTED)
                        .values({name: REDACTED}).execution_options(synchronize_session=False))
    return count


def _depersonalise_disclosures(client_id, now):
    """Register rows stay as proof of disclosure (date, recipient category, legal basis), without any name.

    Whatever text columns the register has beyond the kept ones are cleared, so columns added later are
    covered without touching this rule.
    """
    table = DisclosureGrant.__table__
    values = {}
    for column in table.columns:
        if column.name in DISCLOSURE_KEPT_TEXT or not isinstance(column.type, db.String):
            continue
        values[column.name] = None if column.nullable else DEPERSONALISED
    if "depersonalised_at" in table.columns:
        values["depersonalised_at"] = now
    return _count(update(table).where(table.c.client_id == client_id, _not_all(values, table)).values(**values))


def _not_all(values, table):
    """Rows where some column still differs from its erased value (a re-run changes nothing)."""
    return or_(*[table.c[name].is_not(None) if value is None else table.c[name] != value
                 for name, value in values.items() if name != "depersonalised_at"])


def local_today():
    """Today in the airline's time zone: a flight is "not yet flown" by the Almaty calendar."""
    return dt.datetime.now(ZoneInfo(current_app.config["BACKOFFICE_TIMEZONE"])).date()


def years_before(day, years):
    """Midnight of the same calendar day `years` earlier (29 February → 28 February)."""
    try:
        earlier = day.replace(year=day.year - years)
    except ValueError:
        earlier = day.replace(year=day.year - years, day=28)
    return dt.datetime.combine(earlier, dt.time())


def _keys_only(value):
    if isinstance(value, dict):
        return {key: _keys_only(item) if isinstance(item, dict) else None for key, item in value.items()}
    return None


def _norm_email(value):
    return try_normalise(normalise_email, value) or ((value or "").strip().lower() or None)


def _norm_phone(value):
    return try_normalise(normalise_phone, value) if value else None


def _opt_out_state(client):
    """The client's opt-out rows and whether they had opted out (active row or withdrawn marketing consent)."""
    email = client.email_norm or _norm_email(client.email)
    phone = client.phone_e164 or _norm_phone(client.phone)
    # Matched by the indexed keyed hashes, which services.optouts writes beside every plaintext address: a match
    # on lower(email) or phone would read the whole suppression list for every erasure (bench/RESULTS.md).
    conditions = [MarketingOptOut.client_id == client.id]
    if email:
        conditions.append(MarketingOptOut.email_hash == keyed_hash(email))
    if phone:
        conditions.append(MarketingOptOut.phone_hash == keyed_hash(phone))
    rows = db.session.execute(select(MarketingOptOut).where(or_(*conditions))).scalars().all()
    withdrew_marketing = db.session.execute(
        select(func.count()).select_from(Consent)
        .where(Consent.client_id == client.id, Consent.purpose == MARKETING, Consent.withdrawn_at.is_not(None))
    ).scalar()
    had = any(row.removed_at is None for row in rows) or bool(withdrew_marketing)
    return {"rows": rows, "had_opted_out": had, "email": email, "phone": phone}


def _depersonalise_opt_outs(state, request_id):
    """Keep the opt-out as keyed hashes only (policy 3.2.2): a later import of this address stays suppressed."""
    changed = 0
    email_hash, phone_hash = keyed_hash(state["email"]), keyed_hash(state["phone"])
    covered_email = covered_phone = False
    for row in state["rows"]:
        if row.email:
            row.email_hash = row.email_hash or keyed_hash(_norm_email(row.email))
        if row.phone:
            row.phone_hash = row.phone_hash or keyed_hash(_norm_phone(row.phone) or row.phone)
        if row.email or row.phone or row.client_id or row.reason or row.removal_reason:
            changed += 1
        row.email = row.phone = row.reason = row.removal_reason = None
        row.client_id = None
        if row.removed_at is None:
            covered_email = covered_email or (email_hash is not None and row.email_hash == email_hash)
            covered_phone = covered_phone or (phone_hash is not None and row.phone_hash == phone_hash)
    if state["had_opted_out"] and ((email_hash and not covered_email) or (phone_hash and not covered_phone)):
        db.session.add(MarketingOptOut(email_hash=email_hash, phone_hash=phone_hash, channel="all",
                                       source="privacy_request", request_id=request_id))
        changed += 1
    db.session.flush()
    return changed


def _unlink(paths):
    """Export files go after the commit (a file cannot be rolled back); cleanup removes any left behind."""
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("export file of an erased client not removed (%s); cleanup will retry", type(exc).__name__)
