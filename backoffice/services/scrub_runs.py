"""The campaign scrub as a background job with progress (policy 3.2.2): no web request waits for a million rows.

Staff choose the columns; `start` checks the choice, writes the run's state next to the uploaded file and queues
`backoffice.jobs.scrub.scrub_campaign_list(upload_id)` (the random upload id is the only argument: no personal
data in Redis). The job scrubs on every core of its worker (services/multicore.py), writing its progress to the
state file about once a second; the page polls `state`. The state file holds counts only, like the summary.
Workers on other machines need the instance folder (uploads) shared, as they need the export folder.
"""
import json
import os
import time

from flask import current_app
from flask_babel import gettext as _

from ..extensions import db
from ..models.staff import StaffUser
from . import jobqueue, multicore, scrub

SCRUB_JOB = "backoffice.jobs.scrub.scrub_campaign_list"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
PROGRESS_EVERY_SECONDS = 1.0


def state_path(upload_id):
    return scrub._path(upload_id, ".run.json")


def _write_state(upload_id, **state):
    path = state_path(upload_id)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state))
    os.chmod(partial, 0o600)
    partial.replace(path)  # atomic: the page never reads half a state


def state(upload_id):
    """The run's state: {"state": queued|running|done|failed, "rows": n, "fraction": 0..1, "error": text}."""
    path = state_path(upload_id)
    if not path.exists():
        raise scrub.ScrubError(_("This scrub file does not exist any more. Upload the list again."))
    return json.loads(path.read_text())


def start(upload_id, email_column, phone_column, channel, by):
    """Check the staff member's choice and queue the scrub job; nothing is scrubbed in the web request."""
    if email_column is None and phone_column is None:
        raise scrub.ScrubError(_("Choose the e-mail column, the phone column, or both."))
    if channel not in scrub.CAMPAIGN_CHANNELS:
        raise scrub.ScrubError(_("Choose the campaign's channel."))
    columns = scrub.header(upload_id)
    for index in (email_column, phone_column):
        if index is not None and not 0 <= index < len(columns):
            raise scrub.ScrubError(_("Choose a column of the file."))
    if state_path(upload_id).exists() and state(upload_id)["state"] in (QUEUED, RUNNING):
        return  # a second click while it runs
    _write_state(upload_id, state=QUEUED, email_column=email_column, phone_column=phone_column, channel=channel,
                 by=by.id if by is not None else None, rows=0, fraction=0.0,
                 size=scrub.input_path(upload_id).stat().st_size)
    try:
        jobqueue.enqueue_token_job(SCRUB_JOB, upload_id)
    except jobqueue.QueueUnavailable:
        state_path(upload_id).unlink(missing_ok=True)
        raise scrub.ScrubError(_("The job queue is unavailable; nothing was scrubbed. Try again in a minute."))


def execute(upload_id):
    """The job: scrub the uploaded file on every core, keep progress and the counts, audit the run (counts only)."""
    run = state(upload_id)
    if run["state"] not in (QUEUED, RUNNING):
        return run  # done already (a retried job)
    size = max(run.get("size") or 1, 1)
    last = {"at": 0.0}

    def progress(rows):
        now = time.monotonic()
        if now - last["at"] >= PROGRESS_EVERY_SECONDS:
            last["at"] = now
            fraction = min(rows * bytes_per_row / size, 0.99)  # rows so far against the file's size
            _write_state(upload_id, **dict(run, state=RUNNING, rows=rows, fraction=round(fraction, 3)))

    bytes_per_row = _bytes_per_row(upload_id)
    _write_state(upload_id, **dict(run, state=RUNNING))
    by = db.session.get(StaffUser, run["by"]) if run.get("by") else None
    try:
        result = scrub.run_scrub(upload_id, run["email_column"], run["phone_column"], run["channel"], by=by,
                                 processes=multicore.default_processes(current_app.config), progress=progress)
    except scrub.ScrubError as error:
        db.session.rollback()
        # The message is the English msgid (no request locale in a job); the page shows it translated.
        _write_state(upload_id, **dict(run, state=FAILED, error=error.args[0] if error.args else ""))
        return state(upload_id)
    db.session.commit()
    _write_state(upload_id, **dict(run, state=DONE, rows=result.rows, fraction=1.0))
    return state(upload_id)


def _bytes_per_row(upload_id):
    """Average bytes per row at the head of the file (for the progress fraction only)."""
    with open(scrub.input_path(upload_id), "rb") as handle:
        head = handle.read(256 * 1024)
    return len(head) / max(head.count(b"\n"), 1)
