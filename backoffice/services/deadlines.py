"""Statutory deadlines on the Kazakhstan working-day calendar (Law No. 94-V art. 24–25; kz-law-notes.md).

A period of N working days counts the working days *after* the day of receipt; the deadline is the end of the
N-th working day in Asia/Almaty time, stored as naive UTC. A request received on a weekend or holiday is treated
as received on the next working day. N = 0 means "by the end of the working day of receipt" (marketing opt-out).
Working days are Monday–Friday minus Kazakhstan public holidays and their observed days, plus the Saturdays
the government moved a working day to (the `holidays` package's KZ calendar knows both).
"""
import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models.base import utcnow
from ..models.deadlines import FROM_APPROVAL, FROM_RECEIPT, DeadlineRule
from .transaction import user_action

DEFAULT_TIMEZONE = "Asia/Almaty"
DEFAULT_WORKDAY_END = "18:00"

# request type → (working days, counted from, legal reference, extension allowed, extension working days).
# kz-law-notes.md: every period is a default an admin may change in the Deadline rules table.
DEFAULT_RULES = {
    # Legal references are keys of backoffice/labels.LEGAL_REFERENCES (shown with the laws' full titles).
    "access": (3, FROM_RECEIPT, "law94.access", False, 0),
    "rectification": (1, FROM_RECEIPT, "law94.rectification", False, 0),
    "blocking": (1, FROM_RECEIPT, "law94.blocking", False, 0),
    "unblocking": (1, FROM_RECEIPT, "law94.blocking", False, 0),
    "erasure": (1, FROM_RECEIPT, "law94.erasure", False, 0),
    "consent_withdrawal": (1, FROM_APPROVAL, "law94.consent_withdrawal", True, 5),
    "marketing_opt_out": (0, FROM_RECEIPT, "policy.3_2_2", False, 0),
    "third_party_grant": (10, FROM_RECEIPT, "law94.third_party", False, 0),
    # Not a request: the breach register's notice to the authorised body, counted from discovery (issue 15).
    "breach_notice": (1, FROM_RECEIPT, "law94.breach_notice", False, 0),
}


@lru_cache(maxsize=64)
def _calendar(year):
    return holidays.KZ(years=(year - 1, year, year + 1))


def is_working_day(day):
    """Monday–Friday that is not a KZ public holiday or observed day, or a Saturday made a working day."""
    return _calendar(day.year).is_working_day(day)


def next_working_day(day):
    day += dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day, count):
    """The `count`-th working day after `day`; with count 0, `day` itself if it is a working day, else the next."""
    if count <= 0:
        return day if is_working_day(day) else next_working_day(day)
    for _ in range(count):
        day = next_working_day(day)
    return day


def _zone():
    return ZoneInfo(current_app.config.get("BACKOFFICE_TIMEZONE") or DEFAULT_TIMEZONE)


def _workday_end():
    hours, _, minutes = (current_app.config.get("BACKOFFICE_WORKDAY_END") or DEFAULT_WORKDAY_END).partition(":")
    return dt.time(int(hours), int(minutes or 0))


def local_datetime(utc_naive):
    """A stored (naive UTC) time as an aware time in the office's zone (Asia/Almaty by default)."""
    if utc_naive is None:
        return None
    return utc_naive.replace(tzinfo=dt.timezone.utc).astimezone(_zone())


def local_date(utc_naive):
    """The calendar date in Asia/Almaty of a naive-UTC timestamp."""
    return utc_naive.replace(tzinfo=dt.timezone.utc).astimezone(_zone()).date()


def end_of_working_day(day):
    """End of the working day `day` in Asia/Almaty, as naive UTC."""
    local = dt.datetime.combine(day, _workday_end(), tzinfo=_zone())
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def due_after(start_utc, working_days):
    """Deadline for a period of `working_days` counted from `start_utc` (naive UTC), as naive UTC."""
    start_day = local_date(start_utc)
    if working_days > 0 and not is_working_day(start_day):
        # Received on a day off: the period starts as if received on the next working day.
        start_day = next_working_day(start_day)
    return end_of_working_day(add_working_days(start_day, working_days))


def extend(due_at_utc, working_days):
    """A deadline moved by `working_days` working days past the current one."""
    return end_of_working_day(add_working_days(local_date(due_at_utc), working_days))


def ensure_default_rules(session=None):
    """Create the missing per-type rules with their defaults (the migration seeds them; tests build by create_all)."""
    session = session or db.session
    existing = set(session.execute(select(DeadlineRule.request_type)).scalars())
    missing = [t for t in DEFAULT_RULES if t not in existing]
    for request_type in missing:
        days, counted_from, reference, ext_allowed, ext_days = DEFAULT_RULES[request_type]
        try:
            with session.begin_nested():
                session.add(DeadlineRule(request_type=request_type, working_days=days, counted_from=counted_from,
                                         legal_reference=reference, extension_allowed=ext_allowed,
                                         extension_working_days=ext_days))
        except IntegrityError:
            pass  # another process seeded the same row first; theirs is identical
    return len(missing)


@user_action
def prepare_rules():
    """The admin opens the rules: create the missing ones with their defaults, committed. Returns how many."""
    return ensure_default_rules()


def rule_for(request_type, session=None):
    """The DeadlineRule of a request type (seeded with the defaults on first use)."""
    session = session or db.session
    rule = session.execute(select(DeadlineRule).where(DeadlineRule.request_type == request_type)).scalar_one_or_none()
    if rule is None:
        ensure_default_rules(session)
        rule = session.execute(
            select(DeadlineRule).where(DeadlineRule.request_type == request_type)).scalar_one_or_none()
    return rule


def initial_due_at(request_type, received_at):
    """The due date a new request gets; None when the period starts on approval."""
    rule = rule_for(request_type)
    if rule is None:
        return None
    if rule.counted_from == FROM_APPROVAL:
        return None
    return due_after(received_at, rule.working_days)


def due_on_approval(request_type, approved_at, current_due):
    """For periods counted from approval (consent withdrawal), the due date set when a manager approves."""
    rule = rule_for(request_type)
    if rule is not None and rule.counted_from == FROM_APPROVAL:
        return due_after(approved_at, rule.working_days)
    return current_due


def soon_cutoff(now=None, working_days=1):
    """End of the working day `working_days` after today: "due within 1 working day" means due before this."""
    now = now or utcnow()
    return end_of_working_day(add_working_days(local_date(now), working_days))


def time_left(due_at, now=None):
    """(overdue?, timedelta left or overdue by) for display; None without a due date."""
    if due_at is None:
        return None
    now = now or utcnow()
    if due_at < now:
        return True, now - due_at
    return False, due_at - now


@lru_cache(maxsize=64)
def _working_days_to_date(year):
    """Entry n: the working days of `year` from 1 January up to and including its (n+1)-th day."""
    day, total, running = dt.date(year, 1, 1), 0, []
    while day.year == year:
        total += is_working_day(day)
        running.append(total)
        day += dt.timedelta(days=1)
    return tuple(running)


def _working_days_up_to(day):
    return _working_days_to_date(day.year)[day.timetuple().tm_yday - 1]


def working_days_between(start_day, end_day):
    """Working days after `start_day` up to and including `end_day` (0 when end_day <= start_day).

    From per-year running counts (cached), not day by day: lists show it for every row, and a request overdue for
    a year would otherwise walk 365 days per row.
    """
    if end_day <= start_day:
        return 0
    count = _working_days_up_to(end_day) - _working_days_up_to(start_day)
    for year in range(start_day.year, end_day.year):
        count += _working_days_to_date(year)[-1]
    return count


def working_days_left(due_at, now=None):
    """(overdue?, whole working days) between today in Asia/Almaty and the deadline's day; None without one.

    Not overdue and 0 days: due by the end of today. Overdue and 0: the deadline passed earlier today.
    """
    if due_at is None:
        return None
    now = now or utcnow()
    today, due_day = local_date(now), local_date(due_at)
    if due_at < now:
        return True, working_days_between(due_day, today)
    return False, working_days_between(today, due_day)
