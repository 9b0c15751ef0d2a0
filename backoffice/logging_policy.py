"""Application logs carry no personal data (policy 4.3): ids, never names, e-mails, phones, IINs or search terms.

Our own code logs ids only; this filter is the safety net for what libraries log on their own:
- werkzeug's access log prints the request line, whose query string holds what staff typed into search boxes;
- SQLAlchemy at DEBUG prints result rows (client records) - those records are dropped;
- anything else that slips through is redacted by pattern (e-mail addresses, runs of 10-15 digits).
SQL parameters are kept out of logs and error messages by `hide_parameters` in SQLALCHEMY_ENGINE_OPTIONS.
Names cannot be recognised by pattern; that is why query strings go as a whole.
"""
import logging
import re

# Loggers whose records we filter at the source (a logger's filters see records created on that very logger).
LOGGERS = ("werkzeug", "sqlalchemy.engine", "sqlalchemy.engine.Engine", "sqlalchemy.pool", "flask-admin",
           "flask-admin.sqla", "flask-admin.model", "rq.worker", "backoffice")

# The werkzeug dev server logs the request line unquoted (spaces and all) and colours non-200 lines with ANSI
# escapes: the query goes up to " HTTP/x.y" when that is there, else up to the next blank.
_REQUEST_LINE_QUERY = re.compile(r'("(?:\x1b\[[0-9;]*m)?[A-Z]+ [^\s?"]*)\?(?:[^"]*?(?= HTTP/[\d.]+(?:\x1b\[[0-9;]*m)?")|[^\s"]*)')
_EMAIL = re.compile(r"[^@\s\"'<>()\[\],;:]+@[^@\s\"'<>()\[\],;:]+\.[A-Za-z]{2,}")
# 10-15 digits, optionally with single spaces, dashes or brackets between them (IINs, phones, document numbers).
_DIGIT_RUN = re.compile(r"(?<![\w.:/%-])\+?\d(?:[\s\-()]?\d){9,14}(?![\w.:/%-])")
_ROW_DUMPS = ("Row ", "Col ")


def redact(text):
    """The text with query strings, e-mail addresses and long digit runs replaced by placeholders."""
    text = _REQUEST_LINE_QUERY.sub(r"\1?[query removed]", text)
    text = _EMAIL.sub("[e-mail]", text)
    return _DIGIT_RUN.sub("[number]", text)


class PersonalDataFilter(logging.Filter):
    """A logging filter that drops result-row dumps and redacts personal data from every other record."""

    def filter(self, record):
        if record.name.startswith("sqlalchemy.engine") and isinstance(record.msg, str) \
                and record.msg.startswith(_ROW_DUMPS):
            return False
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(app):
    """Attach the filter to the libraries' loggers, the app's logger and the root logger's handlers (idempotent)."""
    targets = [logging.getLogger(name) for name in LOGGERS] + [app.logger]
    targets += list(logging.getLogger().handlers) + list(app.logger.handlers)
    for target in targets:
        if not any(isinstance(f, PersonalDataFilter) for f in target.filters):
            target.addFilter(PersonalDataFilter())
