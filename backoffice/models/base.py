"""Shared column helpers. All times are stored as naive UTC."""
import datetime as dt


def utcnow():
    """Current UTC time without tzinfo (stored the same way on SQLite and PostgreSQL)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# Where a personal-data row came from (policy 2.1).
SOURCES = ("registration", "form", "service_use", "staff_entry", "import", "privacy_request", "api")
