"""Opt-outs imported from a CSV file (policy 3.2.2): all-or-nothing, bad rows reported by number, merged with the
list's entries, and — for channel 'all' — the matching clients' marketing consent withdrawn (the rule in optouts)."""
import csv
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..extensions import db
from ..models.clients import ERASED, Client
from ..models.optouts import MarketingOptOut
from . import audit, csv_limits
from .optouts import (ALL, MAX_REASON, OptOutError, address_hash, check_channel, consent_follows_opt_out,
                      normalise_address, place_entry)
from .transaction import user_action

EMAIL_HEADERS = {"email", "e-mail", "email_address", "e-mail address", "email address", "mail"}
PHONE_HEADERS = {"phone", "phone_number", "phone number", "mobile", "msisdn", "telephone"}
MAX_ERRORS_SHOWN = 100


@dataclass
class RowError:
    row: int
    message: str


class ImportRefused(Exception):
    """The file has at least one bad row; nothing was imported."""

    def __init__(self, errors, total_errors):
        super().__init__(f"{total_errors} bad rows")
        self.errors = errors
        self.total_errors = total_errors


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    merged: int = 0
    by_channel: dict = field(default_factory=dict)


def sniff_dialect(sample):
    """The CSV dialect of a sample (comma, semicolon — Excel in ru/kk locales — or tab)."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _header_index(header, names):
    for index, title in enumerate(header):
        if title.strip().lower() in names:
            return index
    return None


def validate_import(lines):
    """Read every row and return the normalised (email, phone, channel, reason) tuples, or raise ImportRefused.

    Row numbers are file lines as a spreadsheet shows them (the header is row 1). Messages name the column and
    the problem, never the value (they are safe to show and to log).
    """
    lines = csv_limits.bounded_lines(lines)
    try:
        first = next(lines, None)
        if first is None:
            raise ImportRefused([RowError(1, _("The file is empty."))], 1)
        dialect = sniff_dialect(first)
        reader = csv.reader(_chain(first, lines), dialect)
        header = csv_limits.check_columns(next(reader, []))
        return _validated_rows(reader, header)
    except csv_limits.CsvLimitError as error:
        raise ImportRefused([RowError(error.line, str(error))], 1) from None


def _validated_rows(reader, header):
    email_at = _header_index(header, EMAIL_HEADERS)
    phone_at = _header_index(header, PHONE_HEADERS)
    channel_at = _header_index(header, {"channel"})
    reason_at = _header_index(header, {"reason"})
    if email_at is None and phone_at is None:
        raise ImportRefused([RowError(1, _("The first row must name an 'email' and/or a 'phone' column."))], 1)

    rows, errors, total_errors = [], [], 0
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        csv_limits.check_columns(row, number)

        def cell(index):
            return row[index].strip() if index is not None and index < len(row) else ""

        try:
            email, phone = normalise_address(cell(email_at), cell(phone_at))
            channel = check_channel(cell(channel_at) or ALL)
        except OptOutError as error:
            total_errors += 1
            if len(errors) < MAX_ERRORS_SHOWN:
                errors.append(RowError(number, str(error)))
            continue
        rows.append((email, phone, channel, cell(reason_at)[:MAX_REASON] or None))
    if total_errors:
        raise ImportRefused(errors, total_errors)
    return rows


def _chain(first, rest):
    yield first
    yield from rest


@user_action
def import_opt_outs(lines, by, chunk_size=2000):
    """Import a CSV of opt-outs all-or-nothing (policy 3.2.2): every row is validated before any is stored.

    Duplicates (in the file or already listed) merge into one entry per address and channel, by the same rule as
    add_opt_out; channel-'all' rows withdraw the matching clients' marketing consent. Works in chunks with a few
    IN queries each rather than several queries per row. One audit event carries the counts (consent withdrawals
    are audited per client). The caller commits, or rolls back if anything raises.
    """
    rows = validate_import(lines)
    result = ImportResult()
    for start in range(0, len(rows), chunk_size):
        _import_chunk(rows[start:start + chunk_size], by, result)
    audit.record("optout.import", object_type="marketing_opt_out", actor=by,
                 details={"rows": result.rows, "created": result.created, "merged": result.merged})
    return result


def _import_chunk(rows, by, result):
    email_hash = {email: address_hash(email) for email, _, _, _ in rows if email}
    phone_hash = {phone: address_hash(phone) for _, phone, _, _ in rows if phone}
    held_by_email, held_by_phone = {}, {}
    conditions = []
    if email_hash:
        conditions.append(MarketingOptOut.email_hash.in_(list(email_hash.values())))
    if phone_hash:
        conditions.append(MarketingOptOut.phone_hash.in_(list(phone_hash.values())))
    for entry in db.session.execute(select(MarketingOptOut).where(or_(*conditions), MarketingOptOut.removed_at.is_(None))
                                    .order_by(MarketingOptOut.id)).scalars():
        if entry.email_hash:
            held_by_email.setdefault((entry.email_hash, entry.channel), entry)
        if entry.phone_hash:
            held_by_phone.setdefault((entry.phone_hash, entry.channel), entry)

    clients_by_email, clients_by_phone = {}, {}
    client_conditions = []
    if email_hash:
        client_conditions.append(Client.email_norm.in_(list(email_hash)))
    if phone_hash:
        client_conditions.append(Client.phone_e164.in_(list(phone_hash)))
    for client in db.session.execute(select(Client).where(or_(*client_conditions), Client.status != ERASED)
                                     .order_by(Client.id)).scalars():
        if client.email_norm in email_hash:
            clients_by_email.setdefault(client.email_norm, []).append(client)
        if client.phone_e164 in phone_hash:
            clients_by_phone.setdefault(client.phone_e164, []).append(client)

    withdraw = {}
    for email, phone, channel, reason in rows:
        e_hash, p_hash = email_hash.get(email), phone_hash.get(phone)
        entry, created = place_entry(email, e_hash, phone, p_hash, channel,
                                held_by_email.get((e_hash, channel)) if email else None,
                                held_by_phone.get((p_hash, channel)) if phone else None,
                                source="import", reason=reason, created_by_id=getattr(by, "id", None))
        if entry.email_hash:
            held_by_email.setdefault((entry.email_hash, channel), entry)
        if entry.phone_hash:
            held_by_phone.setdefault((entry.phone_hash, channel), entry)
        matched = {c.id: c for c in clients_by_email.get(email, []) + clients_by_phone.get(phone, [])}
        if entry.client_id is None and len(matched) == 1:
            entry.client_id = next(iter(matched))
        if channel == ALL:
            withdraw.update(matched)
        result.rows += 1
        result.created += created
        result.merged += not created
        result.by_channel[channel] = result.by_channel.get(channel, 0) + 1
    db.session.flush()
    consent_follows_opt_out(list(withdraw.values()), "import", by=by)
