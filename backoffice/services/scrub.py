"""Campaign-list scrub: the recipients' CSV minus everyone marketing must not reach (policy 3.2.2, 5.2, 5.3).

A row is removed when its person is erased, blocked, on the suppression list for the campaign's channel, or
has no open marketing consent (an address the airline does not know has none). The file is streamed: rows are
read, decided and written in batches of BATCH_SIZE, each batch answered by a few indexed IN queries
(hashes on the suppression list, email_norm / phone_e164 on clients), so a million-row list never sits in memory.
"""
import csv
import json
import os
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..identifiers import InvalidIdentifier, normalise_email, normalise_phone
from ..models.clients import BLOCKED, ERASED, Client
from ..models.consent import MARKETING, Consent
from ..models.optouts import MarketingOptOut
from . import audit
from .optouts import channels_covering, hasher, sniff_dialect

BATCH_SIZE = 5000
CAMPAIGN_CHANNELS = ("email", "sms", "phone")

ERASED_REASON = "erased"
BLOCKED_REASON = "blocked"
OPTED_OUT = "opted_out"
NO_CONSENT = "no_marketing_consent"
NO_ADDRESS = "no_valid_address"
# The order decides which reason a row counts under when several apply.
REASONS = (ERASED_REASON, BLOCKED_REASON, OPTED_OUT, NO_CONSENT, NO_ADDRESS)
REASON_LABELS = {
    ERASED_REASON: _l("Erased client"),
    BLOCKED_REASON: _l("Blocked client"),
    OPTED_OUT: _l("On the suppression list"),
    NO_CONSENT: _l("No marketing consent (or not a client)"),
    NO_ADDRESS: _l("No valid e-mail or phone in the chosen columns"),
}


class ScrubError(ValueError):
    """A scrub that cannot run (bad upload id, column, encoding); the message is translated."""


# --- fast normalisation -------------------------------------------------------------------------------------------
# identifiers.normalise_email/phone cost ~25 µs a value (email_validator, phonenumbers): 50 s for a million rows
# with two columns. The shapes below cover almost every real address and give the same result as the full
# normalisers whenever those accept the value (tests/services/test_scrub.py compares them); anything else goes
# through the full normaliser. A phone in a known-valid operator prefix is not re-validated digit by digit: an
# invalid one can then only fail to match (every stored number is valid), so no row is kept that should not be.

_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_SPECIAL_TLDS = ("arpa", "invalid", "local", "localhost", "onion", "test")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_KZ_RU_E164 = re.compile(r"\+7\d{10}")
_KZ_TRUNK = re.compile(r"8\d{10}")


def email_key(raw):
    """The normalised e-mail (as identifiers.normalise_email gives it) or None if it is not one."""
    value = raw.strip().lower()
    if not value:
        return None
    if len(value) <= 254 and _SIMPLE_EMAIL.fullmatch(value):
        local, _, domain = value.rpartition("@")
        if len(local) <= 64 and "xn--" not in domain and domain.rpartition(".")[2] not in _SPECIAL_TLDS:
            return value
    try:
        return normalise_email(raw)
    except InvalidIdentifier:
        return None


_phone_valid_prefix = {}


def phone_key(raw):
    """The E.164 phone (as identifiers.normalise_phone gives it) or None if it is not one."""
    value = _PHONE_NOISE.sub("", raw)
    if not value:
        return None
    candidate = None
    if _KZ_RU_E164.fullmatch(value):
        candidate = value
    elif _KZ_TRUNK.fullmatch(value):
        candidate = "+7" + value[1:]
    if candidate is not None:
        # Validity of +7 numbers is decided by the operator/area prefix: ask phonenumbers once per prefix.
        if candidate[:8] in _phone_valid_prefix:
            return candidate
    try:
        result = normalise_phone(raw)
    except InvalidIdentifier:
        return None
    if candidate is not None and result == candidate:
        _phone_valid_prefix[candidate[:8]] = True
    return result


# --- the scrub -----------------------------------------------------------------------------------------------------

@dataclass
class ScrubResult:
    rows: int = 0
    kept: int = 0
    removed: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def removed_total(self):
        return sum(self.removed.values())

    def as_dict(self):
        return {"rows": self.rows, "kept": self.kept, "removed": dict(self.removed), "seconds": self.seconds}


def _in_chunks(values, size=BATCH_SIZE):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


class _Lookup:
    """Answers for one batch of normalised addresses, from indexed IN queries."""

    def __init__(self, channel):
        self.channels = channels_covering(channel)
        self.hash_one = hasher()

    def run(self, emails, phones):
        email_hashes = {value: self.hash_one(value) for value in emails}
        phone_hashes = {value: self.hash_one(value) for value in phones}
        self.opted_email = self._opted_out(MarketingOptOut.email_hash, email_hashes)
        self.opted_phone = self._opted_out(MarketingOptOut.phone_hash, phone_hashes)
        self.email_clients = self._clients(Client.email_norm, emails)
        self.phone_clients = self._clients(Client.phone_e164, phones)
        candidates = {cid for found in (self.email_clients, self.phone_clients) for clients in found.values()
                      for cid, status in clients if status not in (ERASED, BLOCKED)}
        self.consenting = set()
        for chunk in _in_chunks(candidates):
            self.consenting.update(db.session.execute(
                select(Consent.client_id).where(Consent.client_id.in_(chunk), Consent.purpose == MARKETING,
                                                Consent.withdrawn_at.is_(None))
            ).scalars())

    def _opted_out(self, column, hashes):
        """{normalised value: 'erased' | 'opted_out'} for values on the suppression list for this channel."""
        if not hashes:
            return {}
        value_of = {h: v for v, h in hashes.items()}
        found = {}
        rows = db.session.execute(
            select(column, Client.status)
            .select_from(MarketingOptOut).outerjoin(Client, Client.id == MarketingOptOut.client_id)
            .where(column.in_(list(value_of)), MarketingOptOut.channel.in_(self.channels),
                   MarketingOptOut.removed_at.is_(None))
        )
        for value_hash, status in rows:
            value = value_of[value_hash]
            if status == ERASED or found.get(value) == ERASED_REASON:
                found[value] = ERASED_REASON
            else:
                found[value] = OPTED_OUT
        return found

    def _clients(self, column, values):
        """{normalised value: [(client id, status), ...]}."""
        if not values:
            return {}
        found = {}
        for value, client_id, status in db.session.execute(
                select(column, Client.id, Client.status).where(column.in_(list(values)))):
            found.setdefault(value, []).append((client_id, status))
        return found

    def reason(self, email, phone):
        """Why this row must go, or None to keep it."""
        if email is None and phone is None:
            return NO_ADDRESS
        clients = self.email_clients.get(email, []) + self.phone_clients.get(phone, [])
        listed = {self.opted_email.get(email), self.opted_phone.get(phone)}
        statuses = {status for _, status in clients}
        if ERASED in statuses or ERASED_REASON in listed:
            return ERASED_REASON
        if BLOCKED in statuses:
            return BLOCKED_REASON
        if OPTED_OUT in listed:
            return OPTED_OUT
        if not any(client_id in self.consenting for client_id, _ in clients):
            return NO_CONSENT
        return None


def scrub_rows(reader, writer, email_column=None, phone_column=None, channel="email", batch_size=BATCH_SIZE):
    """Copy rows from a csv reader to a csv writer, header first, minus the rows marketing must not reach.

    `email_column` / `phone_column` are column indexes (at least one). Returns a ScrubResult with counts by reason.
    Works in batches of `batch_size` rows; memory does not grow with the file.
    """
    if email_column is None and phone_column is None:
        raise ScrubError(_("Choose the e-mail column, the phone column, or both."))
    if channel not in CAMPAIGN_CHANNELS:
        raise ScrubError(_("Choose the campaign's channel."))
    started = time.perf_counter()
    result = ScrubResult()
    header = next(reader, None)
    if header is None:
        raise ScrubError(_("The file is empty."))
    writer.writerow(header)
    lookup = _Lookup(channel)
    batch = []

    def flush():
        keys = []
        emails, phones = set(), set()
        for row in batch:
            email = email_key(row[email_column]) if email_column is not None and email_column < len(row) else None
            phone = phone_key(row[phone_column]) if phone_column is not None and phone_column < len(row) else None
            keys.append((email, phone))
            if email:
                emails.add(email)
            if phone:
                phones.add(phone)
        lookup.run(emails, phones)
        kept = []
        for row, (email, phone) in zip(batch, keys):
            why = lookup.reason(email, phone)
            if why is None:
                kept.append(row)
            else:
                result.removed[why] += 1
        writer.writerows(kept)
        result.kept += len(kept)
        result.rows += len(batch)
        batch.clear()

    for row in reader:
        if not row:
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


# --- the uploaded file, kept under a random id in the instance folder --------------------------------------------

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
SAMPLE_BYTES = 64 * 1024


def scrub_folder():
    folder = Path(current_app.instance_path) / "scrub"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(upload_id, suffix):
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise ScrubError(_("This scrub file does not exist any more. Upload the list again."))
    return scrub_folder() / f"{upload_id}{suffix}"


def input_path(upload_id):
    return _path(upload_id, ".in.csv")


def output_path(upload_id):
    return _path(upload_id, ".out.csv")


def summary_path(upload_id):
    return _path(upload_id, ".json")


def store_upload(file_storage):
    """Save an uploaded CSV under a new random id (the only thing that ever appears in a URL); return the id."""
    purge_stale()
    upload_id = secrets.token_hex(16)
    path = input_path(upload_id)
    file_storage.save(str(path))
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
    try:
        header(upload_id)
    except ScrubError:
        delete_files(upload_id)
        raise
    return upload_id


def _open_text(path):
    return open(path, newline="", encoding="utf-8-sig", errors="strict")


def _dialect(path):
    with _open_text(path) as handle:
        try:
            sample = handle.read(SAMPLE_BYTES)
        except UnicodeDecodeError:
            raise ScrubError(_("The file is not UTF-8 text. Save it as CSV UTF-8 and upload it again.")) from None
    if not sample.strip():
        raise ScrubError(_("The file is empty."))
    first_lines = "\n".join(sample.splitlines()[:20])
    return sniff_dialect(first_lines)


def header(upload_id):
    """The first row of the uploaded file (the column names staff choose from)."""
    path = input_path(upload_id)
    if not path.exists():
        raise ScrubError(_("This scrub file does not exist any more. Upload the list again."))
    dialect = _dialect(path)
    with _open_text(path) as handle:
        try:
            row = next(csv.reader(handle, dialect), None)
        except (UnicodeDecodeError, csv.Error):
            row = None
    if not row:
        raise ScrubError(_("The file has no header row."))
    return row


def run_scrub(upload_id, email_column, phone_column, channel, by=None):
    """Scrub an uploaded list into its output file, delete the input, keep the counts; audited with counts only."""
    if email_column is None and phone_column is None:
        raise ScrubError(_("Choose the e-mail column, the phone column, or both."))
    if channel not in CAMPAIGN_CHANNELS:
        raise ScrubError(_("Choose the campaign's channel."))
    columns = header(upload_id)
    for index in (email_column, phone_column):
        if index is not None and not 0 <= index < len(columns):
            raise ScrubError(_("Choose a column of the file."))
    source, target = input_path(upload_id), output_path(upload_id)
    dialect = _dialect(source)
    try:
        with _open_text(source) as incoming, open(target, "w", newline="", encoding="utf-8") as outgoing:
            os.chmod(target, 0o600)
            result = scrub_rows(csv.reader(incoming, dialect),
                                csv.writer(outgoing, delimiter=dialect.delimiter, quotechar=dialect.quotechar or '"',
                                           lineterminator="\r\n"),
                                email_column, phone_column, channel)
    except UnicodeDecodeError:
        delete_files(upload_id)
        raise ScrubError(_("The file is not UTF-8 text. Save it as CSV UTF-8 and upload it again.")) from None
    except csv.Error:
        delete_files(upload_id)
        raise ScrubError(_("The file is not a readable CSV file.")) from None
    source.unlink(missing_ok=True)
    summary_path(upload_id).write_text(json.dumps(result.as_dict()))
    audit.record("optout.scrub", object_type="campaign_list", actor=by,
                 details={"channel": channel, "rows": result.rows, "kept": result.kept,
                          "removed": dict(result.removed)})
    return result


def summary(upload_id):
    path = summary_path(upload_id)
    if not path.exists() or not output_path(upload_id).exists():
        raise ScrubError(_("This scrub file does not exist any more. Upload the list again."))
    data = json.loads(path.read_text())
    return ScrubResult(rows=data["rows"], kept=data["kept"], removed=Counter(data["removed"]),
                       seconds=data["seconds"])


def delete_files(upload_id):
    for path in (input_path(upload_id), output_path(upload_id), summary_path(upload_id)):
        path.unlink(missing_ok=True)


def purge_stale(now=None):
    """Delete scrub files older than SCRUB_FILE_TTL_MINUTES (lists abandoned half-way)."""
    ttl = current_app.config.get("SCRUB_FILE_TTL_MINUTES", 60) * 60
    now = now or time.time()
    for path in scrub_folder().iterdir():
        try:
            if now - path.stat().st_mtime > ttl:
                path.unlink()
        except OSError:
            continue


def stream_output(upload_id, chunk_size=256 * 1024):
    """Yield the scrubbed file in chunks, then delete it and its summary (used once)."""
    path = output_path(upload_id)
    if not path.exists():
        raise ScrubError(_("This scrub file does not exist any more. Upload the list again."))
    handle = open(path, "rb")

    def generate():
        try:
            while True:
                chunk = handle.read(chunk_size)
                if not chunk:
                    break
                yield chunk
        finally:
            handle.close()
            delete_files(upload_id)

    return generate()
