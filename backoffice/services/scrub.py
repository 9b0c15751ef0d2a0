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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from ..extensions import db
from ..identifiers import InvalidIdentifier, normalise_email, normalise_phone
from ..models.clients import BLOCKED, ERASED, Client
from ..models.consent import MARKETING, Consent
from ..models.optouts import MarketingOptOut
from . import audit, csv_limits, multicore
from .optout_import import sniff_dialect
from .optouts import channels_covering, hasher

BATCH_SIZE = 5000
SQLITE_SCRUB_CACHE_KB = 32 * 1024
CAMPAIGN_CHANNELS = ("email", "sms", "phone")

ERASED_REASON = "erased"
BLOCKED_REASON = "blocked"
OPTED_OUT = "opted_out"
NO_CONSENT = "no_marketing_consent"
NO_ADDRESS = "no_valid_address"
# The order decides which reason a row counts under when several apply.
REASONS = (ERASED_REASON, BLOCKED_REASON, OPTED_OUT, NO_CONSENT, NO_ADDRESS)


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
    # ASCII only: some non-ASCII letters lower-case into ASCII ones (KELVIN SIGN → k); those take the full path.
    if len(value) <= 254 and raw.isascii() and _SIMPLE_EMAIL.fullmatch(value):
        local, _, domain = value.rpartition("@")
        if len(local) <= 64 and "xn--" not in domain and domain.rpartition(".")[2] not in _SPECIAL_TLDS:
            return value
    try:
        return normalise_email(raw)
    except InvalidIdentifier:
        return None


# +7 number prefixes (country code and 6 digits) phonenumbers has confirmed valid; not personal data.
_phone_valid_prefix = set()


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
        _phone_valid_prefix.add(candidate[:8])
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


class _Lookup:
    """Answers for one batch of normalised addresses, from indexed IN queries.

    The queries go straight to the driver's cursor as plain SQL: compiling 5,000 bound parameters per query in
    SQLAlchemy and wrapping every result row cost more than the queries themselves. On PostgreSQL the batch is
    one array parameter (= ANY). Table and column names come from the models; values are always parameters.
    """

    def __init__(self, channel, engine, hash_one):
        self.channels = channels_covering(channel)
        self.hash_one = hash_one
        # Its own connection, used only by the lookup thread (see scrub_rows); reads committed data only.
        connection = self.connection = engine.connect()
        self.cursor = connection.connection.cursor()
        self.postgres = connection.dialect.name == "postgresql"
        self.marker = "%s" if connection.dialect.paramstyle in ("format", "pyformat") else "?"
        # Binary array parameters: psycopg's text format quotes every element with a regex (slow for 5,000).
        self.array_marker = "%b" if self.postgres else self.marker
        self.sqlite_cache = None
        if connection.dialect.name == "sqlite":
            # A larger page cache for this connection while it scrubs (restored in close()): the index probes
            # then stop re-reading pages from the OS. Bounded: SQLITE_SCRUB_CACHE_KB.
            self.cursor.execute("PRAGMA cache_size")
            self.sqlite_cache = self.cursor.fetchone()[0]
            self.cursor.execute(f"PRAGMA cache_size = -{int(SQLITE_SCRUB_CACHE_KB)}")
        self.listed_prefixes = self._suppression_prefixes()

    def _suppression_prefixes(self):
        """The first 64 bits of every active hash for this channel, as a set of ints (~60 bytes an entry).

        The suppression list is small next to a campaign list; checking it in memory first leaves the database
        only the few rows that may match (verified there, exactly, with the client's status), instead of two
        index probes for every row of the file. Memory grows with the suppression list, never with the file.
        """
        markers = ",".join([self.marker] * len(self.channels))
        self.cursor.execute(
            f"SELECT email_hash, phone_hash FROM {MarketingOptOut.__tablename__} "
            f"WHERE channel IN ({markers}) AND removed_at IS NULL", list(self.channels))
        prefixes = set()
        while True:
            rows = self.cursor.fetchmany(10000)
            if not rows:
                return prefixes
            for email_hash, phone_hash in rows:
                if email_hash:
                    prefixes.add(int(email_hash[:16], 16))
                if phone_hash:
                    prefixes.add(int(phone_hash[:16], 16))

    def _select(self, sql, column, values, before=(), after=()):
        """Run `sql` with {where} replaced by "column IN values"; `before`/`after` are the parameters whose
        markers come before/after the values in the text."""
        if self.postgres:
            where, params = f"{column} = ANY({self.array_marker})", [list(values)]
        else:
            # Pad the list with NULLs (which match nothing) to a multiple of 500, so that SQLite sees a handful of
            # distinct statements and reuses them from its statement cache instead of preparing (and caching:
            # memory) a new 5,000-parameter statement for every batch.
            params = list(values)
            params += [None] * (-len(params) % 500)
            where = f"{column} IN ({','.join([self.marker] * len(params))})"
        self.cursor.execute(sql.format(where=where, m=self.marker), [*before, *params, *after])
        return self.cursor.fetchall()

    def close(self):
        try:
            if self.sqlite_cache is not None:
                self.cursor.execute(f"PRAGMA cache_size = {int(self.sqlite_cache)}")
            self.cursor.close()
        finally:
            self.connection.close()

    def _maybe_listed(self, values):
        """{value: hash} for the values whose hash prefix is on the suppression list."""
        found = {}
        prefixes = self.listed_prefixes
        for value in values:
            value_hash = self.hash_one(value)
            if int(value_hash[:16], 16) in prefixes:
                found[value] = value_hash
        return found

    def run(self, emails, phones):
        """The answers for one batch's distinct normalised e-mails and phones."""
        return _Answers(self._opted_out("o.email_hash", self._maybe_listed(emails)),
                        self._opted_out("o.phone_hash", self._maybe_listed(phones)),
                        self._clients("email_norm", emails), self._clients("phone_e164", phones))

    def _opted_out(self, column, hashes):
        """{normalised value: 'erased' | 'opted_out'} for values on the suppression list for this channel."""
        if not hashes:
            return {}
        value_of = {h: v for v, h in hashes.items()}
        found = {}
        channel_markers = ",".join([self.marker] * len(self.channels))
        rows = self._select(
            f"SELECT {column}, c.status FROM {MarketingOptOut.__tablename__} o "
            f"LEFT JOIN {Client.__tablename__} c ON c.id = o.client_id "
            f"WHERE {{where}} AND o.channel IN ({channel_markers}) AND o.removed_at IS NULL",
            column, value_of.keys(), after=self.channels)
        for value_hash, status in rows:
            value = value_of[value_hash]
            if status == ERASED or found.get(value) == ERASED_REASON:
                found[value] = ERASED_REASON
            else:
                found[value] = OPTED_OUT
        return found

    def _clients(self, column, values):
        """{normalised value: [(client id, status, has open marketing consent), ...]}."""
        if not values:
            return {}
        found = {}
        rows = self._select(
            f"SELECT c.{column}, c.id, c.status, EXISTS (SELECT 1 FROM {Consent.__tablename__} s "
            f"WHERE s.client_id = c.id AND s.purpose = {{m}} AND s.withdrawn_at IS NULL) "
            f"FROM {Client.__tablename__} c WHERE c.{{where}}",
            column, values, before=(MARKETING,))
        for value, client_id, status, consenting in rows:
            entry = (client_id, status, bool(consenting))
            if value in found:
                found[value].append(entry)
            else:
                found[value] = [entry]
        return found



class _Answers:
    """What the database said about one batch; decides each row."""

    def __init__(self, opted_email, opted_phone, email_clients, phone_clients):
        self.opted_email, self.opted_phone = opted_email, opted_phone
        self.email_clients, self.phone_clients = email_clients, phone_clients

    def reason(self, email, phone):
        """Why this row must go, or None to keep it (first applicable reason in REASONS order)."""
        if email is None and phone is None:
            return NO_ADDRESS
        clients = self.email_clients.get(email, ()) if email else ()
        if phone and phone in self.phone_clients:
            clients = [*clients, *self.phone_clients[phone]]
        listed = ()
        if self.opted_email or self.opted_phone:
            listed = (self.opted_email.get(email), self.opted_phone.get(phone))
        consenting = False
        blocked = False
        for _, status, has_consent in clients:
            if status == ERASED:
                return ERASED_REASON
            blocked = blocked or status == BLOCKED
            consenting = consenting or has_consent
        if ERASED_REASON in listed:
            return ERASED_REASON
        if blocked:
            return BLOCKED_REASON
        if OPTED_OUT in listed:
            return OPTED_OUT
        if not consenting:
            return NO_CONSENT
        return None


def scrub_rows(reader, writer, email_column=None, phone_column=None, channel="email", batch_size=BATCH_SIZE,
               processes=1, progress=None):
    """Copy rows from a csv reader to a csv writer, header first, minus the rows marketing must not reach.

    `email_column` / `phone_column` are column indexes (at least one). Returns a ScrubResult with counts by reason.
    Works in batches of `batch_size` rows; memory does not grow with the file. With `processes` > 1 the rows are
    normalised, hashed and looked up in that many worker processes (services/multicore.py). `progress(rows)` is
    called after each batch.
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

    def batches():
        batch = []
        for row in reader:
            if row:
                batch.append(row)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    decided = (_decide_in_processes(batches(), email_column, phone_column, channel, processes) if processes > 1
               else _decide_in_process(batches(), email_column, phone_column, channel))
    for batch, reasons in decided:
        kept = []
        for row, why in zip(batch, reasons):
            if why is None:
                kept.append(row)
            else:
                result.removed[why] += 1
        writer.writerows(kept)
        result.kept += len(kept)
        result.rows += len(batch)
        if progress is not None:
            progress(result.rows)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _cells(batch, index):
    if index is None:
        return [None] * len(batch)
    return [row[index] if index < len(row) else None for row in batch]


def _keys(values, key):
    return [key(value) if value is not None else None for value in values]


def _decide_in_process(batches, email_column, phone_column, channel):
    """Yield (batch, reasons): this thread reads and normalises the next batch while a lookup thread queries the
    database for the previous one (the drivers release the GIL while the database works)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrub-lookup") as pool:
        lookup = pool.submit(_Lookup, channel, db.engine, hasher()).result()
        try:
            pending = None
            for batch in batches:
                email_keys, phone_keys = _keys(_cells(batch, email_column), email_key), \
                    _keys(_cells(batch, phone_column), phone_key)
                submitted = (batch, email_keys, phone_keys,
                             pool.submit(lookup.run, set(email_keys) - {None}, set(phone_keys) - {None}))
                if pending is not None:
                    yield pending[0], _reasons_of(*pending[1:3], pending[3].result())
                pending = submitted
            if pending is not None:
                yield pending[0], _reasons_of(*pending[1:3], pending[3].result())
        finally:
            pool.submit(lookup.close).result()


def _reasons_of(email_keys, phone_keys, answers):
    reason = answers.reason
    return [reason(email, phone) for email, phone in zip(email_keys, phone_keys)]


# Set in the parent right before the worker processes fork; each worker builds its own lookup from it.
_fork_state = {}


def _start_worker_process():
    engine = _fork_state["engine"]
    engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    _fork_state["lookup"] = _Lookup(_fork_state["channel"], engine, _fork_state["hash_one"])


def _reasons_in_worker(emails, phones):
    """In a worker process: one reason (None = keep) per row from the batch's raw e-mail and phone cells."""
    email_keys, phone_keys = _keys(emails, email_key), _keys(phones, phone_key)
    return _reasons_of(email_keys, phone_keys,
                       _fork_state["lookup"].run(set(email_keys) - {None}, set(phone_keys) - {None}))


def _decide_in_processes(batches, email_column, phone_column, channel, processes):
    """Yield (batch, reasons) with the per-row work in `processes` forked worker processes."""
    _fork_state.update(engine=db.engine, channel=channel, hash_one=hasher())
    try:
        work = ((batch, (_cells(batch, email_column), _cells(batch, phone_column))) for batch in batches)
        yield from multicore.ordered_map(_reasons_in_worker, work, processes, initializer=_start_worker_process)
    finally:
        _fork_state.clear()


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
    """The first row of the uploaded file (the column names staff choose from), within the CSV bounds.

    Only the first line is read, at most CSV_MAX_LINE_BYTES of it, so a hostile header (a million columns)
    is refused at once instead of becoming a page of a million choices.
    """
    path = input_path(upload_id)
    if not path.exists():
        raise ScrubError(_("This scrub file does not exist any more. Upload the list again."))
    dialect = _dialect(path)
    with _open_text(path) as handle:
        try:
            first = next(csv_limits.bounded_lines(handle), "")
            row = next(csv.reader([first], dialect), None)
            if row:
                csv_limits.check_columns(row)
        except csv_limits.CsvLimitError as error:
            raise ScrubError(str(error)) from None
        except (UnicodeDecodeError, csv.Error):
            row = None
    if not row:
        raise ScrubError(_("The file has no header row."))
    return row


def run_scrub(upload_id, email_column, phone_column, channel, by=None, processes=1, progress=None):
    """Scrub an uploaded list into its output file, delete the input, keep the counts; audited with counts only.

    The caller commits (the audit event). Runs as a job (services/scrub_runs.py), never inside a web request.
    """
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
                                email_column, phone_column, channel, processes=processes, progress=progress)
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
