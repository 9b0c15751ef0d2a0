"""Opt-outs imported from a CSV file (policy 3.2.2): every row is checked before any is stored, bad rows reported by
number, then the rows are merged with the list's entries in batches and — for channel 'all' — the matching clients'
marketing consent withdrawn (the rule in optouts). The import runs as a job: services/optout_import_runs.py.
"""
import csv
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..extensions import db
from ..models.clients import ERASED, Client
from ..models.optouts import MarketingOptOut
from . import csv_limits
from .scrub import email_key
from .uploads import NOT_UTF8
from .optouts import (ALL, MAX_REASON, OptOutError, address_hash, check_channel, consent_follows_opt_out,
                      normalise_address, place_entry)

EMAIL_HEADERS = {"email", "e-mail", "email_address", "e-mail address", "email address", "mail"}
PHONE_HEADERS = {"phone", "phone_number", "phone number", "mobile", "msisdn", "telephone"}
MAX_ERRORS_SHOWN = 100
NO_ADDRESS_COLUMN = _l("The first row must name an 'email' and/or a 'phone' column.")


class ImportRefused(Exception):
    """The file has at least one bad row; nothing was imported.

    `problems`: [{"line": n, "message": {language: text}}], at most MAX_ERRORS_SHOWN; `total`: every bad row.
    """

    def __init__(self, problems, total, rows):
        super().__init__(f"{total} bad rows")
        self.problems = problems
        self.total = total
        self.rows = rows


@dataclass(frozen=True)
class Columns:
    """Where the file keeps each field (None: not in the file)."""

    email: int | None
    phone: int | None
    channel: int | None
    reason: int | None


@dataclass
class BatchCounts:
    created: int = 0
    merged: int = 0


def _header_index(header, names):
    for index, title in enumerate(header):
        if title.strip().lower() in names:
            return index
    return None


def columns_of(header):
    """The fields' places in the header row; OptOutError if it names neither an e-mail nor a phone column."""
    columns = Columns(_header_index(header, EMAIL_HEADERS), _header_index(header, PHONE_HEADERS),
                      _header_index(header, {"channel"}), _header_index(header, {"reason"}))
    if columns.email is None and columns.phone is None:
        raise OptOutError(str(NO_ADDRESS_COLUMN))
    return columns


def in_every_language(render):
    """{language: render()} in every UI language: a job has no reader, so its message is kept in each of them."""
    messages = {}
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            messages[language] = str(render())
    return messages


def read(lines, dialect):
    """The header's Columns and an iterator of (row number, cells) over the non-blank rows below it.

    Row numbers are rows as a spreadsheet shows them (the header is row 1). Reading raises CsvLimitError (a line
    too long, too many columns), csv.Error or UnicodeDecodeError, also part-way through the rows.
    """
    reader = csv.reader(csv_limits.bounded_lines(lines), dialect)
    columns = columns_of(csv_limits.check_columns(next(reader, [])))

    def rows():
        for number, row in enumerate(reader, start=2):
            if any(cell.strip() for cell in row):
                yield number, csv_limits.check_columns(row, number)

    return columns, rows()


def parse_row(cells, columns):
    """(email, phone, channel, reason) normalised, or OptOutError naming the column and the problem, never the value.

    Common e-mail shapes take the scrub's fast path (scrub.email_key: the full normaliser's result, a tenth of its
    cost; tested against it); anything else, and every phone, goes through the full normalisers.
    """
    def cell(index):
        return cells[index].strip() if index is not None and index < len(cells) else ""

    raw_email, raw_phone = cell(columns.email), cell(columns.phone)
    email = email_key(raw_email) if raw_email else None
    if email is None or raw_phone:
        checked_email, phone = normalise_address(None if email else raw_email, raw_phone)
        email = email or checked_email
    else:
        phone = None
    channel = check_channel(cell(columns.channel) or ALL)
    return email, phone, channel, cell(columns.reason)[:MAX_REASON] or None


def _problem_of(cells, columns):
    try:
        parse_row(cells, columns)
    except OptOutError as error:
        return str(error)
    return ""


def check(lines, dialect, progress=None):
    """Check every row of the file and return how many there are, or raise ImportRefused (nothing is written).

    Messages name the column and the problem, never the value (safe to show and to store), in every UI language.
    """
    problems, total, count, number = [], 0, 0, 1

    def refuse(line, render):
        nonlocal total
        total += 1
        if len(problems) < MAX_ERRORS_SHOWN:
            problems.append({"line": line, "message": in_every_language(render)})

    try:
        columns, rows = read(lines, dialect)
        for number, cells in rows:
            count += 1
            try:
                parse_row(cells, columns)
            except OptOutError:
                refuse(number, lambda cells=cells: _problem_of(cells, columns))
            if progress is not None:
                progress(count)
    except OptOutError:
        refuse(1, lambda: NO_ADDRESS_COLUMN)
    except csv_limits.CsvLimitError as error:
        refuse(error.line, lambda: error.message)
    except UnicodeDecodeError:
        refuse(number + 1, lambda: str(NOT_UTF8))
    except csv.Error:
        refuse(number + 1, lambda: _("The file is not a readable CSV file."))
    if total:
        raise ImportRefused(problems, total, count)
    return count


def checked_rows(lines, dialect, skip=0):
    """The normalised rows of a file `check` passed, after the first `skip` (imported before an interruption)."""
    columns, rows = read(lines, dialect)
    for index, (_number, cells) in enumerate(rows):
        if index >= skip:
            yield parse_row(cells, columns)


def apply_batch(rows, by):
    """Put a batch of checked rows on the suppression list (policy 3.2.2); returns BatchCounts. The caller commits.

    Duplicates (in the file or already listed) merge into one entry per address and channel, by the same rule as
    add_opt_out; channel-'all' rows withdraw the matching clients' marketing consent (audited per client). A few IN
    queries per batch rather than several queries per row.
    """
    counts = BatchCounts()
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
        counts.created += created
        counts.merged += not created
    db.session.flush()
    consent_follows_opt_out(list(withdraw.values()), "import", by=by)
    return counts
