"""Bounds on uploaded CSV files (issue 13): line length and column count are checked while reading, so a hostile
file (one 2 MB header line of a million columns) is refused after reading at most one line's worth of bytes.

Total size is bounded by MAX_CONTENT_LENGTH for every upload (413 before the view runs).
"""
from flask import current_app
from flask_babel import lazy_gettext as _l


class CsvLimitError(ValueError):
    """The file breaks a bound; `line` is the 1-based line number; `message` stays lazy (translated when shown)."""

    def __init__(self, line, message):
        super().__init__(str(message))
        self.line = line
        self.message = message


def max_line_chars():
    return current_app.config["CSV_MAX_LINE_BYTES"]


def max_columns():
    return current_app.config["CSV_MAX_COLUMNS"]


def too_long(line_number):
    return CsvLimitError(line_number, _l("Line %(line)d is longer than %(n)d characters: this is not a list "
                                         "this page can read.", line=line_number, n=max_line_chars()))


def bounded_lines(source):
    """The lines of a text file (or any iterable of lines), refusing any longer than CSV_MAX_LINE_BYTES."""
    limit = max_line_chars()
    readline = getattr(source, "readline", None)
    number = 0
    if readline is None:
        for line in source:
            number += 1
            if len(line) > limit:
                raise too_long(number)
            yield line
        return
    while True:
        line = readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit:
            raise too_long(number)
        yield line


def check_columns(row, line_number=1):
    if len(row) > max_columns():
        raise CsvLimitError(line_number, _l("The file has %(found)d columns; at most %(n)d are accepted.",
                                            found=len(row), n=max_columns()))
    return row
