"""The client's copy of everything we hold about them (policy 5.4), as an expiring ZIP package.

Rows are streamed from the database to the ZIP on disk (`yield_per`: a server-side cursor on PostgreSQL), so
memory stays flat whatever the size. Files live under EXPORT_DIR (the instance folder by default, never static/),
are downloadable only by staff who handle requests (every download audited), and are deleted when they expire.
"""
import datetime as dt
import decimal
import hashlib
import io
import json
import logging
import os
import secrets
import zipfile
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from .. import system_notes
from ..extensions import db
from ..models.base import utcnow
from ..models.clients import Client, ClientAccount
from ..models.consent import PURPOSE_CLAUSES, Consent
from ..models.disclosures import DisclosureGrant
from ..models.jobs import ExportPackage
from ..models.optouts import MarketingOptOut
from ..models.records import Booking, Communication
from ..models.requests import ACCESS, PrivacyRequest
from ..models.systems import BACKOFFICE, SQL
from . import audit, csvstream, datamap, disclosures, documents, execution, fanout, sql_connector, summary_labels
from .optouts import address_hash
from .retention import effective_rules

log = logging.getLogger("backoffice.jobs")
STREAM_BATCH = 500
# Spreadsheet programs run cells starting with these as formulas; a quote keeps them text.


def _iso(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _categories(client):
    """(category, csv name, query, row → dict). Every item says where the data came from (policy 2.1)."""
    cid = client.id
    email = client.email_norm
    # By the indexed keyed hashes (services.optouts writes them beside every plaintext address), not by
    # lower(email)/phone, which would read the whole suppression list for every export.
    opt_out_match = [MarketingOptOut.client_id == cid]
    if email:
        opt_out_match.append(MarketingOptOut.email_hash == address_hash(email))
    if client.phone_e164:
        opt_out_match.append(MarketingOptOut.phone_hash == address_hash(client.phone_e164))
    return (
        ("identity", "client", select(Client).where(Client.id == cid), lambda c: {
            "id": c.id, "full_name": c.full_name, "email": c.email, "phone": c.phone, "iin": c.iin,
            "date_of_birth": c.date_of_birth, "preferred_language": c.preferred_language,
            "agency": c.agency.name if c.agency else None, "agency_bin": c.agency.bin if c.agency else None,
            "position": c.position, "status": c.status, "created_at": c.created_at, "source": c.source}),
        ("site_account", "client_account", select(ClientAccount.__table__).where(ClientAccount.client_id == cid)
         .order_by(ClientAccount.id), lambda a: {
            "id": a.id, "login": a.login, "registered_at": a.registered_at, "last_login_at": a.last_login_at,
            "state": a.state, "source": a.source}),
        ("bookings", "booking", select(Booking.__table__).where(Booking.client_id == cid).order_by(Booking.id), lambda b: {
            "id": b.id, "pnr": b.pnr, "origin": b.origin, "destination": b.destination, "flight_date": b.flight_date,
            "passenger_name": b.passenger_name, "document_number": b.document_number, "amount": b.amount,
            "currency": b.currency, "issued_at": b.issued_at, "source": b.source}),
        ("communications", "communication", select(Communication.__table__).where(Communication.client_id == cid)
         .order_by(Communication.id), lambda m: {
            "id": m.id, "channel": m.channel, "direction": m.direction, "subject": m.subject, "body": m.body,
            "sent_at": m.sent_at, "source": m.source}),
        ("consents", "consent", select(Consent.__table__).where(Consent.client_id == cid).order_by(Consent.id), lambda c: {
            "id": c.id, "purpose": c.purpose, "policy_clause": PURPOSE_CLAUSES.get(c.purpose),
            "given_at": c.given_at, "withdrawn_at": c.withdrawn_at, "withdrawn_source": c.withdrawn_source,
            "source": c.source}),
        ("privacy_requests", "privacy_request", select(PrivacyRequest.__table__).where(PrivacyRequest.client_id == cid)
         .order_by(PrivacyRequest.id), lambda r: {
            "id": r.id, "type": r.type, "channel": r.channel, "status": r.status, "received_at": r.received_at,
            "requester_name": r.requester_name, "requester_email": r.requester_email,
            "requester_phone": r.requester_phone, "description": r.description,
            "details": json.dumps(r.payload, ensure_ascii=False) if r.payload else None, "outcome": _outcome(r.outcome, client),
            "completed_at": r.completed_at, "source": "privacy_request"}),
        # Policy 4.1-4.2: what was disclosed to whom. Every column the register has, so columns added later
        # (recipient category, legal basis, revocation) reach the client without touching this line.
        ("disclosures", "disclosure_grant", select(DisclosureGrant.__table__).where(DisclosureGrant.client_id == cid)
         .order_by(DisclosureGrant.id), lambda g: {
            **{key: value for key, value in g._mapping.items() if key not in ("client_id", "created_by_id")},
            "source": "disclosure_register"}),
        ("marketing_opt_outs", "marketing_opt_out", select(MarketingOptOut.__table__).where(or_(*opt_out_match))
         .order_by(MarketingOptOut.id), lambda o: {
            "id": o.id, "email": o.email, "phone": o.phone, "channel": o.channel, "reason": o.reason,
            "created_at": o.created_at,
            "removed_at": o.removed_at, "source": o.source}),
    )


def _stream(query):
    """Rows in batches (a server-side cursor on PostgreSQL) instead of all at once. Table selects give plain rows
    (no ORM objects: several times faster); the one identity row is an ORM object for its agency."""
    result = db.session.execute(query.execution_options(yield_per=STREAM_BATCH))
    return result.scalars() if query.column_descriptions[0].get("expr") is Client else result


def _write_csv(archive, name, query, to_row, columns):
    with archive.open(f"{name}.csv", "w") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        return csvstream.write(text, columns, (to_row(row).values() for row in _stream(query)))


def _write_json(archive, client, categories, generated_at, systems=None):
    with archive.open("data.json", "w") as raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
        text.write('{"generated_at": %s, "client_id": %d, "policy": "5.4", "categories": {'
                   % (json.dumps(generated_at.isoformat()), client.id))
        for index, (category, _name, query, to_row) in enumerate(categories):
            text.write(("," if index else "") + json.dumps(category) + ": [")
            for position, row in enumerate(_stream(query)):
                item = {key: _iso(value) for key, value in to_row(row).items()}
                text.write(("," if position else "") + "\n" + json.dumps(item, ensure_ascii=False))
            text.write("]")
        text.write("}")
        # Rows held in the other systems of the data map, under each system's name (issue 11).
        text.write(', "systems": ' + json.dumps(
            {name: {table: [{k: _iso(v) for k, v in row.items()} for row in rows] for table, rows in tables.items()}
             for name, tables in (systems or {}).items()}, ensure_ascii=False))
        text.write("}\n")


def _read_systems(client):
    """The client's rows in every SQL system taking part in access requests: {system name: {table: rows}}."""
    identifiers = datamap.identifiers_of(client)
    out = {}
    for system in datamap.systems_for(ACCESS):
        if system.kind != SQL:
            continue
        try:
            out[system.name] = sql_connector.read(system, identifiers)
        except sql_connector.ConnectorError as exc:
            raise execution.ExecutionError(exc.args[0] if exc.args else str(exc), code="system_unavailable") from None
    return out


def _write_system_csvs(archive, systems):
    counts = {}
    for name, tables in systems.items():
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
        counts[f"system:{name}"] = 0
        for table, rows in tables.items():
            with archive.open(f"systems/{slug}/{table}.csv", "w") as raw, \
                    io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
                csvstream.write(text, list(rows[0].keys()) if rows else [], (row.values() for row in rows))
            counts[f"system:{name}"] += len(rows)
    return counts


def _columns(to_row, query):
    for first in _stream(query.limit(1)):
        return list(to_row(first).keys())
    return []


def _outcome(text, client):
    """A request's outcome as the client reads it: a system note in the client's language, staff's words as typed."""
    with force_locale(summary_language(client)):
        return system_notes.render(text) or None


def summary_language(client):
    languages = current_app.config["LANGUAGES"]
    return client.preferred_language if client.preferred_language in languages else "en"


def render_summary(client, counts, generated_at, request_id, job_id=None):
    """summary.html in the client's language: purposes, recipients, retention, rights (policy 3.2, 4, 5.2–5.4);
    printable as it is, and rendered to summary.pdf beside it (services/documents)."""
    language = summary_language(client)
    with force_locale(language):
        return render_template("exports/summary.html", client=client, counts=counts, generated_at=generated_at,
                               request_id=request_id, job_id=job_id, rules=effective_rules(), language=language,
                               prepared_at=documents.document_time(generated_at, language),
                               css=documents.DOCUMENT_CSS.read_text(encoding="utf-8"),
                               category_label=summary_labels.category, record_type_label=summary_labels.record_type,
                               reference_label=summary_labels.legal_reference)


def export_dir():
    path = Path(current_app.config["EXPORT_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_export(request_id, job_id=None):
    """Build the access package for an approved access request (policy 5.4); completes the request."""
    privacy_request = execution.claim(request_id, (ACCESS,))
    if privacy_request is None:
        return {"request_id": request_id, "noop": True}
    if privacy_request.client_id is None:
        raise execution.ExecutionError(_l("The request is not linked to a client."), code="no_client")
    waiting = fanout.blocking_tasks(request_id, ACCESS)
    if waiting:
        db.session.rollback()  # webhook and manual systems first (services.fanout); they queue this job again
        return {"request_id": request_id, "noop": True, "waiting_on": [task.system.name for task in waiting]}
    execution.mark_executing(privacy_request, job_id)
    db.session.commit()

    client = db.session.get(Client, privacy_request.client_id)
    client_id = client.id
    generated_at = utcnow()
    directory = export_dir()
    final_path = directory / f"request-{request_id}-{secrets.token_hex(8)}.zip"
    part_path = final_path.with_suffix(".zip.part")
    # The disclosure register's history (issue 15) is kept beside the register, in services.disclosures.
    categories = _categories(client) + disclosures.export_categories(client.id)
    counts = {}
    systems = _read_systems(client)
    try:
        with zipfile.ZipFile(part_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _write_json(archive, client, categories, generated_at, systems)
            for category, name, query, to_row in categories:
                counts[category] = _write_csv(archive, name, query, to_row, _columns(to_row, query))
            counts.update(_write_system_csvs(archive, systems))
            client = db.session.get(Client, client_id)
            summary = render_summary(client, counts, generated_at, request_id, job_id)
            archive.writestr("summary.html", summary)
            pdf = documents.summary_pdf(summary)
            if pdf is not None:
                archive.writestr("summary.pdf", pdf)
        os.replace(part_path, final_path)
    except BaseException:
        part_path.unlink(missing_ok=True)
        raise
    digest, size = sha256_of(final_path), final_path.stat().st_size
    try:
        privacy_request = execution.lock_request(request_id)
        package = ExportPackage(request_id=request_id, path=str(final_path), sha256=digest, size=size,
                                created_at=generated_at,
                                expires_at=generated_at + dt.timedelta(days=current_app.config["EXPORT_TTL_DAYS"]))
        db.session.add(package)
        db.session.flush()
        fanout.settle_in_transaction(request_id, (BACKOFFICE, SQL), lambda task: (
            {"rows": counts.get(f"system:{task.system.name}", 0)} if task.system.kind == SQL
            else {"package_id": package.id}))
        execution.mark_completed(privacy_request, system_notes.note(
                                     _l("Export package #%(package)s is ready, SHA-256 %(sha256)s."),
                                     package=package.id, sha256=digest),
                                 details={"package_id": package.id, "sha256": digest, "size": size,
                                          "counts": counts})
        execution.checkpoint("export.before_commit")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        final_path.unlink(missing_ok=True)
        raise
    return {"request_id": request_id, "package_id": package.id, "sha256": digest, "size": size, "counts": counts}


def packages_for(request_id):
    """The export packages of a request that can still be downloaded (not expired, not deleted)."""
    return db.session.execute(
        select(ExportPackage).where(ExportPackage.request_id == request_id, ExportPackage.deleted_at.is_(None),
                                    ExportPackage.expires_at > utcnow()).order_by(ExportPackage.id)
    ).scalars().all()


def package_for_download(package_id):
    """The package if it may still be downloaded, else None (expired, deleted, or the file is gone)."""
    package = db.session.get(ExportPackage, package_id)
    if package is None or not package.available:
        return None
    path = Path(package.path).resolve()
    if Path(current_app.config["EXPORT_DIR"]).resolve() not in path.parents or not path.is_file():
        return None
    return package


def record_download(package):
    """Every download is audited (policy 4.3, 5.4)."""
    package.download_count = (package.download_count or 0) + 1
    audit.record("export.download", object_type="export_package", object_id=package.id,
                 request_id=package.request_id, details={"sha256": package.sha256})
    db.session.commit()


SUMMARY_FILES = {"pdf": ("summary.pdf", "application/pdf"), "html": ("summary.html", "text/html")}


def summary_download(package_id, fmt):
    """(bytes, mimetype) of the package's access summary, read out of its ZIP, or None; audited (policy 4.3, 5.4)."""
    package = package_for_download(package_id)
    if package is None or fmt not in SUMMARY_FILES:
        return None
    name, mimetype = SUMMARY_FILES[fmt]
    body = documents.read_package_member(package.path, name)
    if body is None:
        return None
    audit.record("summary.download", object_type="export_package", object_id=package.id,
                 request_id=package.request_id, details={"format": fmt})
    db.session.commit()
    return body, mimetype, package.request_id


def cleanup_expired(now=None, orphan_min_age=dt.timedelta(hours=1)):
    """Delete expired packages' files (policy 5.4), files of packages already marked deleted, and stray files."""
    now = now or utcnow()
    expired = 0
    rows = db.session.execute(
        select(ExportPackage).where(or_(ExportPackage.expires_at <= now, ExportPackage.deleted_at.is_not(None)))
    ).scalars().all()
    for package in rows:
        path = Path(package.path)
        if package.deleted_at is None or path.exists():
            path.unlink(missing_ok=True)
            if package.deleted_at is None:
                package.deleted_at = now
                audit.record("export.expired", object_type="export_package", object_id=package.id,
                             request_id=package.request_id)
            expired += 1
    db.session.commit()
    known = set(db.session.execute(select(ExportPackage.path).where(ExportPackage.deleted_at.is_(None))).scalars())
    orphans = 0
    directory = Path(current_app.config["EXPORT_DIR"])
    if directory.is_dir():
        limit = (now - orphan_min_age).replace(tzinfo=dt.timezone.utc).timestamp()
        for path in directory.iterdir():
            if path.is_file() and str(path) not in known and path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
                orphans += 1
    return {"expired": expired, "orphans": orphans}
