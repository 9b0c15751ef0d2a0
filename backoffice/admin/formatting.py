"""How times are shown to staff: in the office's time zone (Asia/Almaty), where deadlines end."""
from ..services.deadlines import local_datetime


def local_time(value):
    """'2026-11-26 18:00' in BACKOFFICE_TIMEZONE for a stored naive-UTC datetime; '' for None."""
    if value is None:
        return ""
    return local_datetime(value).strftime("%Y-%m-%d %H:%M")


def local_time_formatter(view, context, model, name):
    return local_time(getattr(model, name))


def register(app):
    app.jinja_env.filters["local_time"] = local_time
