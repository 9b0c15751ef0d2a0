"""One house style for what staff read: times in the office's zone (Asia/Almaty), one pattern per language,
amounts, file sizes and working days through Babel (issue 14). Templates use the filters registered below.
"""
import datetime as dt
from decimal import Decimal, InvalidOperation

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency
from babel.units import format_unit
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import ngettext

from ..services.deadlines import local_datetime, working_days_left

# One pattern per language: kk and ru write 01.12.2026 12:02; English gets the month's name, never ambiguous.
DATETIME_PATTERNS = {"kk": "dd.MM.yyyy HH:mm", "ru": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
DATE_PATTERNS = {"kk": "dd.MM.yyyy", "ru": "dd.MM.yyyy", "en": "d MMM yyyy"}
# CLDR gives the tenge sign only in the kk locale; ru and en would print the code "KZT". Staff expect the sign.
CURRENCY_SIGNS = {"KZT": "₸"}
_SIZE_UNITS = ((1024 ** 3, "digital-gigabyte"), (1024 ** 2, "digital-megabyte"), (1024, "digital-kilobyte"))


def _language():
    return str(get_locale() or "en").split("_")[0]


def local_time(value):
    """'01.12.2026 12:02' (kk/ru) / '1 Dec 2026, 12:02' (en) in BACKOFFICE_TIMEZONE for a naive-UTC datetime or
    an ISO string (certificates store ISO text); '' for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        language = _language()
        return babel_format_datetime(local_datetime(value), DATETIME_PATTERNS.get(language, DATETIME_PATTERNS["en"]),
                                     locale=language)
    return local_date(value)


def local_date(value):
    """A calendar date in the language's pattern ('01.12.2026')."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    language = _language()
    return babel_format_date(value, DATE_PATTERNS.get(language, DATE_PATTERNS["en"]), locale=language)


def money(amount, currency="KZT"):
    """'161 614,00 ₸' (kk/ru), '₸161,614.00' (en); '' for None."""
    if amount is None:
        return ""
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    code = (currency or "KZT").upper()
    text = format_currency(number, code, locale=_language())
    sign = CURRENCY_SIGNS.get(code)
    return text.replace(code, sign) if sign else text


def filesize(size):
    """'512 bytes', '1.5 MB' in the page's language."""
    if size is None:
        return ""
    size = int(size)
    language = _language()
    for factor, unit in _SIZE_UNITS:
        if size >= factor:
            return format_unit(size / factor, unit, length="short", format="#,##0.#", locale=language)
    return ngettext("%(num)s byte", "%(num)s bytes", size)


def number(value):
    """'12 345' (kk/ru), '12,345' (en); '' for None."""
    return "" if value is None else format_decimal(value)


def working_days(count):
    """'1 working day', '2 working days' (with the kk/ru plural forms)."""
    return ngettext("%(num)s working day", "%(num)s working days", count)


def time_left(due_at, now=None):
    """What a list shows in its 'time left' column: working days left, 'due today', or working days overdue."""
    state = working_days_left(due_at, now)
    if state is None:
        return ""
    late, days = state
    if late:
        return _("overdue by %(days)s", days=working_days(max(days, 1))) if days else _("overdue today")
    return working_days(days) if days else _("due today")


def local_time_formatter(view, context, model, name):
    return local_time(getattr(model, name))


def register(app):
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["working_days"] = working_days
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals["time_left"] = time_left
