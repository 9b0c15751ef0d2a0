"""The one CSV writer: streamed in chunks (memory stays flat however many rows), every cell through one guard.

Used by every CSV the back-office hands out: the request list, the audit log, the suppression-list hashes and
the CSV files of an export package. Spreadsheets run a cell that starts like a formula (=, +, -, @, tab, CR);
the guard prefixes such a cell with an apostrophe, so it opens as plain text (OWASP "CSV injection").
"""
import csv
import datetime as dt
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 16384


def cell(value, timespec="auto"):
    """One value as CSV text: None → "", dates and times in ISO 8601, anything formula-like defused."""
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.time)):
        text = value.isoformat(timespec=timespec)
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def text_chunks(header, rows, *, timespec="auto", chunk_size=CHUNK_SIZE):
    """Yield the CSV (header first, if any, then `rows`, each an iterable of values) as text, ~chunk_size at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value, timespec) for value in row])
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def byte_chunks(header, rows, *, encoding="utf-8", timespec="auto", chunk_size=CHUNK_SIZE):
    """text_chunks, encoded: what a streamed HTTP response sends."""
    for chunk in text_chunks(header, rows, timespec=timespec, chunk_size=chunk_size):
        yield chunk.encode(encoding)


def write(text_file, header, rows, *, timespec="auto"):
    """Write the CSV to an open text file (e.g. a member of a ZIP archive); returns the number of data rows."""
    count = 0

    def counted():
        nonlocal count
        for row in rows:
            count += 1
            yield row

    for chunk in text_chunks(header, counted(), timespec=timespec):
        text_file.write(chunk)
    return count
