"""The marketing suppression list (policy 3.2.2): add, remove, match and import opt-outs.

Matching is by keyed hash only (HMAC-SHA-256 of the normalised address), never by the plaintext columns:
erasure (policy 5.2, 5.3) nulls the plaintext and keeps the hashes, so a person who said no is never mailed
again, even after the airline has forgotten who they were.
"""
import csv
import hashlib
import hmac
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..extensions import db
from ..identifiers import InvalidIdentifier, normalise_email, normalise_phone
from ..models.base import utcnow
from ..models.clients import ERASED, Client
from ..models.optouts import CHANNELS, SOURCES, MarketingOptOut
from . import audit, csv_limits
from .pseudonyms import keyed_hash

ALL = "all"
EMAIL = "email"
PHONE = "phone"
MAX_REASON = 1000
# The derivation label of the suppression-list key when BACKOFFICE_OPTOUT_HASH_KEY is not set.
_KEY_LABEL = b"bekair-backoffice marketing-opt-out v1"


class OptOutError(ValueError):
    """Input the suppression list refuses; the message is translated and safe to show."""


# --- hashing ---------------------------------------------------------------------------------------------------

def hash_key():
    """The key of the suppression-list hashes (docs/optouts.md explains how it is shared with providers).

    Separate from BACKOFFICE_HASH_KEY, which also pseudonymises audit search terms: giving a mailing provider
    this key lets them match addresses against the suppression list and nothing else.
    """
    configured = current_app.config.get("OPTOUT_HASH_KEY")
    if configured:
        return configured
    main = current_app.config["BACKOFFICE_HASH_KEY"].encode("utf-8")
    return hmac.new(main, _KEY_LABEL, hashlib.sha256).hexdigest()


def address_hash(normalised):
    """HMAC-SHA-256 hex of an already-normalised e-mail or E.164 phone, with the suppression-list key."""
    return keyed_hash(normalised, key=hash_key())


def hasher():
    """A fast hashing function for bulk work (the scrub): same result as address_hash.

    HMAC-SHA-256 written out (RFC 2104) with the padded key's two SHA-256 states prepared once: about twice as fast
    per value as copying an hmac object, which matters a million times per campaign list.
    """
    key = hash_key().encode("utf-8")
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy

    def hash_one(normalised):
        inner = inner_copy()
        inner.update(normalised.encode("utf-8"))
        outer = outer_copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    return hash_one


def normalise_address(email=None, phone=None):
    """(email, phone) normalised; blanks become None; raise OptOutError naming the bad field."""
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None
    if email is None and phone is None:
        raise OptOutError(_("Give an e-mail address or a phone number."))
    try:
        email = normalise_email(email) if email else None
    except InvalidIdentifier as error:
        raise OptOutError(_("E-mail: %(error)s", error=str(error))) from None
    try:
        phone = normalise_phone(phone) if phone else None
    except InvalidIdentifier as error:
        raise OptOutError(_("Phone: %(error)s", error=str(error))) from None
    return email, phone


def check_channel(channel):
    channel = (channel or "").strip().lower()
    if channel not in CHANNELS:
        raise OptOutError(_("Channel must be one of: %(channels)s.", channels=", ".join(CHANNELS)))
    return channel


def channels_covering(channel):
    """Opt-out channels that forbid marketing on `channel`: the channel itself and 'all'."""
    return (channel,) if channel == ALL else (channel, ALL)


# --- adding and removing ---------------------------------------------------------------------------------------

@dataclass
class OptOutResult:
    entry: MarketingOptOut
    created: bool


def _active_entry(column, value_hash, channel):
    return db.session.execute(
        select(MarketingOptOut)
        .where(column == value_hash, MarketingOptOut.channel == channel, MarketingOptOut.removed_at.is_(None))
        .order_by(MarketingOptOut.id).limit(1)
    ).scalar_one_or_none()


def matching_clients(email_norm=None, phone_e164=None):
    """Clients (not erased) whose normalised e-mail or phone is this one: indexed equality lookups."""
    conditions = []
    if email_norm:
        conditions.append(Client.email_norm == email_norm)
    if phone_e164:
        conditions.append(Client.phone_e164 == phone_e164)
    if not conditions:
        return []
    return db.session.execute(
        select(Client).where(or_(*conditions), Client.status != ERASED).order_by(Client.id)
    ).scalars().all()


def _place(email, email_hash, phone, phone_hash, channel, by_email, by_phone, **fields):
    """Merge into the active entries of this channel that already hold the e-mail / phone, or add one.

    Returns (entry, created). One rule for single adds and imports: same hash + channel → one entry.
    """
    if (email is None or by_email) and (phone is None or by_phone):
        return by_email or by_phone, False
    if by_email and by_email.phone_hash is None:
        by_email.phone, by_email.phone_hash = phone, phone_hash
        return by_email, False
    if by_phone and by_phone.email_hash is None:
        by_phone.email, by_phone.email_hash = email, email_hash
        return by_phone, False
    # A new entry holds only the addresses no active entry of this channel covers yet.
    entry = MarketingOptOut(
        email=None if by_email else email, email_hash=None if by_email else email_hash,
        phone=None if by_phone else phone, phone_hash=None if by_phone else phone_hash,
        channel=channel, created_at=utcnow(), **fields,
    )
    db.session.add(entry)
    return entry, True


def add_opt_out(email=None, phone=None, channel=ALL, source="staff_entry", reason=None, by=None, request_id=None,
                *, record_audit=True, withdraw_consent=True):
    """Put an address on the suppression list at once, without approval (policy 3.2.2; law notes: immediately).

    Normalises the address, stores only what matching needs (the keyed hashes) besides the plaintext staff see,
    merges with an active entry of the same hash and channel instead of adding a duplicate, and — for channel
    'all' — withdraws the matching client's marketing consent so that consent and opt-out agree.
    The caller commits. Returns OptOutResult(entry, created).
    """
    email, phone = normalise_address(email, phone)
    channel = check_channel(channel)
    if source not in SOURCES:
        raise OptOutError(_("Unknown opt-out source."))
    reason = (reason or "").strip()[:MAX_REASON] or None
    email_hash = address_hash(email) if email else None
    phone_hash = address_hash(phone) if phone else None

    by_email = _active_entry(MarketingOptOut.email_hash, email_hash, channel) if email else None
    by_phone = _active_entry(MarketingOptOut.phone_hash, phone_hash, channel) if phone else None
    entry, created = _place(email, email_hash, phone, phone_hash, channel, by_email, by_phone,
                            source=source, reason=reason, request_id=request_id, created_by_id=getattr(by, "id", None))

    clients = matching_clients(email, phone)
    if entry.client_id is None and len(clients) == 1:
        entry.client_id = clients[0].id
    db.session.flush()

    if channel == ALL and withdraw_consent:
        from . import consents

        for client in clients:
            consents.withdraw_consent(client, consents.MARKETING, source=source, by=by, request_id=request_id,
                                      add_opt_out=False)
    if record_audit:
        audit.record("optout.add", object_type="marketing_opt_out", object_id=entry.id, request_id=request_id,
                     actor=by,
                     details={"channel": channel, "source": source, "created": created,
                              "fields": [name for name, value in (("email", email), ("phone", phone)) if value]})
    return OptOutResult(entry, created)


def remove_opt_out(entry_id, reason, by):
    """Take an entry off the suppression list (soft: the row stays, with who, when and why; policy 3.2.2, 4.3).

    Removing an opt-out does not give marketing consent back: only the client can do that.
    The caller commits.
    """
    reason = (reason or "").strip()
    if not reason:
        raise OptOutError(_("Give the reason for removing this opt-out."))
    if len(reason) > MAX_REASON:
        raise OptOutError(_("The reason is too long (at most %(max)d characters).", max=MAX_REASON))
    entry = db.session.get(MarketingOptOut, entry_id)
    if entry is None:
        raise OptOutError(_("That opt-out does not exist."))
    if entry.removed_at is not None:
        raise OptOutError(_("That opt-out was already removed."))
    entry.removed_at = utcnow()
    entry.removed_by_id = getattr(by, "id", None)
    entry.removal_reason = reason
    db.session.flush()
    audit.record("optout.remove", object_type="marketing_opt_out", object_id=entry.id,
                 actor=by,
                 details={"channel": entry.channel})
    return entry


def lift_for_consent(client, by=None):
    """The client gave marketing consent again: end their channel-'all' opt-outs (policy 3.2.2), audited.

    Channel-specific opt-outs (e.g. only SMS) stay: consent to marketing does not undo "no SMS".
    """
    conditions = []
    if client.email_norm:
        conditions.append(MarketingOptOut.email_hash == address_hash(client.email_norm))
    if client.phone_e164:
        conditions.append(MarketingOptOut.phone_hash == address_hash(client.phone_e164))
    if not conditions:
        return []
    entries = db.session.execute(
        select(MarketingOptOut).where(or_(*conditions), MarketingOptOut.channel == ALL,
                                      MarketingOptOut.removed_at.is_(None))
    ).scalars().all()
    for entry in entries:
        entry.removed_at = utcnow()
        entry.removed_by_id = getattr(by, "id", None)
        entry.removal_reason = "marketing consent given again"
        audit.record("optout.remove", object_type="marketing_opt_out", object_id=entry.id,
                     actor=by,
                     details={"channel": entry.channel, "cause": "consent_given"})
    db.session.flush()
    return entries


# --- matching --------------------------------------------------------------------------------------------------

def hash_condition(email=None, phone=None):
    """WHERE condition matching entries by the hashes of these (raw) addresses; None if neither is valid."""
    conditions = []
    email = (email or "").strip()
    phone = (phone or "").strip()
    if email:
        try:
            conditions.append(MarketingOptOut.email_hash == address_hash(normalise_email(email)))
        except InvalidIdentifier:
            pass
    if phone:
        try:
            conditions.append(MarketingOptOut.phone_hash == address_hash(normalise_phone(phone)))
        except InvalidIdentifier:
            pass
    return or_(*conditions) if conditions else None


def is_opted_out(email=None, phone=None, *, channel):
    """True if marketing on `channel` to this e-mail or phone is forbidden (policy 3.2.2).

    Matches keyed hashes only, so it still answers correctly after the client's erasure.
    """
    channel = check_channel(channel)
    condition = hash_condition(email, phone)
    if condition is None:
        return False
    found = db.session.execute(
        select(MarketingOptOut.id).where(condition, MarketingOptOut.channel.in_(channels_covering(channel)),
                                         MarketingOptOut.removed_at.is_(None)).limit(1)
    ).first()
    return found is not None


# --- import ----------------------------------------------------------------------------------------------------

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
    from . import consents

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
        entry, created = _place(email, e_hash, phone, p_hash, channel,
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
    for client in withdraw.values():
        consents.withdraw_consent(client, consents.MARKETING, source="import", by=by, add_opt_out=False)


# --- export of hashes ------------------------------------------------------------------------------------------

EXPORT_HEADER = ("type", "hmac_sha256", "channel", "added_on")


def export_hash_rows(batch_size=5000):
    """Yield the active suppression list as rows of hashes only (policy 3.2.2, 4.1): header first.

    Read in batches with a server-side cursor where the database has one, so the list is never held in memory.
    """
    yield EXPORT_HEADER
    query = (select(MarketingOptOut.email_hash, MarketingOptOut.phone_hash, MarketingOptOut.channel,
                    MarketingOptOut.created_at)
             .where(MarketingOptOut.removed_at.is_(None)).order_by(MarketingOptOut.id)
             .execution_options(yield_per=batch_size))
    for email_hash, phone_hash, channel, created_at in db.session.execute(query):
        day = created_at.date().isoformat()
        if email_hash:
            yield ("email", email_hash, channel, day)
        if phone_hash:
            yield ("phone", phone_hash, channel, day)


SOURCE_LABELS = {
    "privacy_request": _l("Privacy request"), "unsubscribe_link": _l("Unsubscribe link"),
    "staff_entry": _l("Staff entry"), "import": _l("Import"), "consent_withdrawal": _l("Consent withdrawal"),
}
