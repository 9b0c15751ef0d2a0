"""Uploaded CSV files under the instance folder (Law art. 12: a copy of personal data never leaves instance/).

One folder per capability (`scrub/` campaign lists, `optout-imports/` opt-out imports), each file named by a random
hex id — never a name from the client's file — and readable by the server's user only. The checks every upload
gets before any work is queued live here too: UTF-8 text, no line longer than CSV_MAX_LINE_BYTES, a header within
CSV_MAX_COLUMNS (services/csv_limits.py); the total size is bounded by MAX_CONTENT_LENGTH before the view runs.
"""
import csv
import os
import re
import secrets
import time
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import csv_limits

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
SAMPLE_BYTES = 64 * 1024
NOT_UTF8 = _l("The file is not UTF-8 text. Save it as CSV UTF-8 and upload it again.")


def sniff_dialect(sample):
    """The CSV dialect of a sample (comma, semicolon — Excel in ru/kk locales — or tab)."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def open_text(path):
    return open(path, newline="", encoding="utf-8-sig", errors="strict")


class UploadFolder:
    """The files of one capability under instance/<name>/; `error` is the exception (translated message) it raises."""

    def __init__(self, name, error, gone_message):
        self.name = name
        self.error = error
        self.gone_message = gone_message  # lazy: shown when an id names no file any more

    def folder(self):
        folder = Path(current_app.instance_path) / self.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def path(self, upload_id, suffix):
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise self.error(str(self.gone_message))
        return self.folder() / f"{upload_id}{suffix}"

    def store(self, file_storage, suffix):
        """Save an upload under a new random id (mode 600); return the id."""
        upload_id = secrets.token_hex(16)
        path = self.path(upload_id, suffix)
        file_storage.save(str(path))
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass
        return upload_id

    def delete(self, upload_id, suffixes):
        for suffix in suffixes:
            self.path(upload_id, suffix).unlink(missing_ok=True)

    def files(self):
        """(upload id, path, modified at) of every file in the folder."""
        for path in self.folder().iterdir():
            upload_id = path.name[:32]
            if _UPLOAD_ID.fullmatch(upload_id):
                try:
                    yield upload_id, path, path.stat().st_mtime
                except OSError:
                    continue

    def files_of(self, upload_id):
        """Every file kept for one upload (whatever its suffix), in name order."""
        self.path(upload_id, "")  # refuses an id that is not ours
        return sorted(self.folder().glob(f"{upload_id}.*"))

    def purge_older_than(self, seconds, now=None, keep=frozenset()):
        """Delete the files of uploads abandoned half-way, except those of the ids in `keep`; returns how many.

        An upload's files go together once the newest of them is older than `seconds`, so a job still writing one
        of them (its progress, its output) keeps the others."""
        now = time.time() if now is None else now
        newest, paths = {}, {}
        for upload_id, path, modified in self.files():
            newest[upload_id] = max(newest.get(upload_id, modified), modified)
            paths.setdefault(upload_id, []).append(path)
        purged = 0
        for upload_id, modified in newest.items():
            if upload_id not in keep and now - modified > seconds:
                for path in paths[upload_id]:
                    path.unlink(missing_ok=True)
                purged += 1
        return purged

    # --- reading ------------------------------------------------------------------------------------------------

    def dialect(self, path):
        if not path.exists():
            raise self.error(str(self.gone_message))
        with open_text(path) as handle:
            try:
                sample = handle.read(SAMPLE_BYTES)
            except UnicodeDecodeError:
                raise self.error(str(NOT_UTF8)) from None
        if not sample.strip():
            raise self.error(_("The file is empty."))
        return sniff_dialect("\n".join(sample.splitlines()[:20]))

    def header(self, path):
        """The first row of the file, within the CSV bounds.

        Only the first line is read, at most CSV_MAX_LINE_BYTES of it, so a hostile header (a million columns)
        is refused at once instead of becoming a page of a million choices.
        """
        dialect = self.dialect(path)
        with open_text(path) as handle:
            try:
                first = next(csv_limits.bounded_lines(handle), "")
                row = next(csv.reader([first], dialect), None)
                if row:
                    csv_limits.check_columns(row)
            except csv_limits.CsvLimitError as error:
                raise self.error(str(error)) from None
            except (UnicodeDecodeError, csv.Error):
                row = None
        if not row:
            raise self.error(_("The file has no header row."))
        return row

    def count_lines(self, path):
        """Non-blank lines after the header, reading the whole file once: every line within CSV_MAX_LINE_BYTES and
        the whole file UTF-8, or the error naming the line. Fit for the web request: the whole upload of a 31 MB
        file (store, this, the header) took 0.54 s (bench/optout_import_bench.py)."""
        lines = 0
        with open_text(path) as handle:
            try:
                for line in csv_limits.bounded_lines(handle):
                    if line.strip():
                        lines += 1
            except csv_limits.CsvLimitError as error:
                raise self.error(str(error)) from None
            except UnicodeDecodeError:
                raise self.error(str(NOT_UTF8)) from None
        return max(lines - 1, 0)
