"""A campaign list's files under instance/scrub/ (policy 3.2.2; Law art. 12: nothing leaves instance/): the upload,
its header, the scrub run over it (services.scrub decides the rows), the counts, the download and the purge of stale
files. Ids are random hex, never a name from the client's file (services/uploads.py keeps the files).
"""
import csv
import json
import os
from collections import Counter

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import audit
from .scrub import CAMPAIGN_CHANNELS, ScrubError, ScrubResult, scrub_rows
from .uploads import NOT_UTF8, UploadFolder, open_text

CAMPAIGN_LISTS = UploadFolder("scrub", ScrubError,
                              _l("This scrub file does not exist any more. Upload the list again."))
INPUT, OUTPUT, SUMMARY = ".in.csv", ".out.csv", ".json"


def scrub_folder():
    return CAMPAIGN_LISTS.folder()


def _path(upload_id, suffix):
    return CAMPAIGN_LISTS.path(upload_id, suffix)


def input_path(upload_id):
    return _path(upload_id, INPUT)


def output_path(upload_id):
    return _path(upload_id, OUTPUT)


def summary_path(upload_id):
    return _path(upload_id, SUMMARY)


def store_upload(file_storage):
    """Save an uploaded CSV under a new random id (the only thing that ever appears in a URL); return the id."""
    purge_stale()
    upload_id = CAMPAIGN_LISTS.store(file_storage, INPUT)
    try:
        header(upload_id)
    except ScrubError:
        delete_files(upload_id)
        raise
    return upload_id


def header(upload_id):
    """The first row of the uploaded file (the column names staff choose from), within the CSV bounds."""
    return CAMPAIGN_LISTS.header(input_path(upload_id))


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
    dialect = CAMPAIGN_LISTS.dialect(source)
    try:
        with open_text(source) as incoming, open(target, "w", newline="", encoding="utf-8") as outgoing:
            os.chmod(target, 0o600)
            result = scrub_rows(csv.reader(incoming, dialect),
                                csv.writer(outgoing, delimiter=dialect.delimiter, quotechar=dialect.quotechar or '"',
                                           lineterminator="\r\n"),
                                email_column, phone_column, channel, processes=processes, progress=progress)
    except UnicodeDecodeError:
        delete_files(upload_id)
        raise ScrubError(str(NOT_UTF8)) from None
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
        raise ScrubError(str(CAMPAIGN_LISTS.gone_message))
    data = json.loads(path.read_text())
    return ScrubResult(rows=data["rows"], kept=data["kept"], removed=Counter(data["removed"]),
                       seconds=data["seconds"])


def delete_files(upload_id):
    """The input, the output, its counts and the job's state."""
    for path in CAMPAIGN_LISTS.files_of(upload_id):
        path.unlink(missing_ok=True)


def purge_stale(now=None):
    """Delete the files of lists abandoned half-way or never downloaded (policy 3.2.2: kept no longer than needed).

    An upload's files go together once the newest of them is older than SCRUB_FILE_TTL_MINUTES, so a scrub job
    still writing its progress keeps its input. Runs as the periodic job `purge-scrub-files`; returns counts only.
    """
    ttl = current_app.config["SCRUB_FILE_TTL_MINUTES"] * 60
    return {"purged": CAMPAIGN_LISTS.purge_older_than(ttl, now=now)}


def open_download(upload_id, chunk_size=256 * 1024):
    """The scrubbed file for its one download: (size in bytes, chunks).

    The upload's files are deleted once the last chunk has been handed to the server (the download completed); a
    download cut off half-way leaves them for another try until purge_stale. The paths are resolved here, in the
    request: the chunks are sent after the request's app context has ended.
    """
    files = CAMPAIGN_LISTS.files_of(upload_id)
    try:
        handle = open(output_path(upload_id), "rb")
    except FileNotFoundError:
        raise ScrubError(str(CAMPAIGN_LISTS.gone_message)) from None
    size = os.fstat(handle.fileno()).st_size

    def generate():
        sent = 0
        with handle:
            while sent < size:
                chunk = handle.read(min(chunk_size, size - sent))
                if not chunk:
                    break
                sent += len(chunk)
                yield chunk
        if sent == size:
            for path in files:
                path.unlink(missing_ok=True)

    return size, generate()
