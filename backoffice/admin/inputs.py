"""Reading typed form values: dates, Almaty-time datetimes, whole numbers. None when absent or malformed."""
import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, request


def form_date(name):
    try:
        return dt.date.fromisoformat((request.form.get(name) or "").strip())
    except ValueError:
        return None


def form_local_datetime(name):
    """A datetime-local value typed in the office's time zone, as naive UTC."""
    try:
        local = dt.datetime.fromisoformat((request.form.get(name) or "").strip())
    except ValueError:
        return None
    if local.tzinfo is not None or not 1900 < local.year < 3000:
        return None
    zone = ZoneInfo(current_app.config["BACKOFFICE_TIMEZONE"])
    return local.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)


def form_int(name, source=None):
    value = ((source or request.form).get(name) or "").strip()
    if value.isdigit() and len(value) < 12:
        return int(value)
    return None


def arg_int(name):
    return form_int(name, request.args)
