"""Statistics on depersonalised, aggregated data only (policy 3.2.3).

Every figure comes from a GROUP BY in the database: no client, request or opt-out row is ever loaded into Python.
Small counts are suppressed so that no statistic identifies a client: a count of 1–4 is shown as "<5" in the page,
the chart and the CSV, and a figure derived from fewer than 5 requests (a median, a percentile, a share) is not
shown at all. Zero is shown as 0: an empty cell describes nobody.

Months and days are those of the office's time zone (Asia/Almaty); times to complete are counted in Kazakhstan
working days (services/deadlines), the same calendar the statutory deadlines use.
"""
import datetime as dt
from dataclasses import dataclass, field

from flask_babel import format_decimal, format_percent
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, or_, select

from .. import labels
from ..extensions import db
from ..models.base import utcnow
from ..models.deadlines import DeadlineRule
from ..models.optouts import CHANNELS as OPT_OUT_CHANNELS
from ..models.optouts import MarketingOptOut
from ..models.requests import (CANCELLED, COMPLETED, ERASURE, FAILED, OPEN_STATUSES, REJECTED, REQUEST_TYPES,
                               PrivacyRequest)
from . import audit, deadlines
from .transaction import user_action

SUPPRESS_BELOW = 5
SUPPRESSED = "<5"
DEFAULT_MONTHS = 12
MAX_MONTHS = 36


@dataclass
class Cell:
    """One figure: `value` is None when suppressed or not computable; `text` is what page, chart and CSV show."""

    value: object
    text: str
    csv: str

    @property
    def suppressed(self):
        return self.text == SUPPRESSED


def count_cell(n):
    n = int(n or 0)
    if 0 < n < SUPPRESS_BELOW:
        return Cell(None, SUPPRESSED, SUPPRESSED)
    return Cell(n, format_decimal(n), str(n))


def measure_cell(value, base, *, percent=False):
    """A figure computed from `base` requests; hidden ("—", empty in the CSV) when base is under the threshold."""
    if value is None or base < SUPPRESS_BELOW:
        return Cell(None, "—", "")
    if percent:
        return Cell(value * 100, format_percent(value, "#,##0.0%"), f"{value * 100:.1f}")
    return Cell(value, format_decimal(value, "#,##0.#"), f"{value:g}")


@dataclass
class Series:
    code: str
    label: object
    plot: bool = True  # drawn in the chart (a count beside a median in days only goes in the table)


@dataclass
class Chart:
    """A table (rows = categories, columns = series) with its chart; `unit` is the chart's axis."""

    key: str
    title: object
    description: object
    category_label: object
    unit: object
    series: list
    rows: list = field(default_factory=list)  # (category label, [Cell per series])

    def header(self):
        return [str(self.category_label)] + [str(s.label) for s in self.series]

    def csv_rows(self):
        for category, cells in self.rows:
            yield [str(category)] + [c.csv for c in cells]


# ---- time buckets in the office's zone, computed by the database ----------------------------------------------

def _offset_minutes():
    return int(deadlines.local_datetime(utcnow()).utcoffset().total_seconds() // 60)


def _local(column, fmt):
    """The column (naive UTC) as local text, 'month' → YYYY-MM, 'day' → YYYY-MM-DD, in SQL on either database."""
    minutes = _offset_minutes()
    if db.session.get_bind().dialect.name == "postgresql":
        pattern = {"month": "YYYY-MM", "day": "YYYY-MM-DD"}[fmt]
        return func.to_char(column + dt.timedelta(minutes=minutes), pattern)
    pattern = {"month": "%Y-%m", "day": "%Y-%m-%d"}[fmt]
    return func.strftime(pattern, column, f"{minutes:+d} minutes")


def window(months=DEFAULT_MONTHS, now=None):
    """(start as naive UTC, list of 'YYYY-MM' local months, oldest first) for the last `months` months."""
    months = max(1, min(int(months), MAX_MONTHS))
    local_now = deadlines.local_datetime(now or utcnow())
    year, month = local_now.year, local_now.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    first = dt.datetime(int(keys[0][:4]), int(keys[0][5:]), 1, tzinfo=local_now.tzinfo)
    return first.astimezone(dt.timezone.utc).replace(tzinfo=None), keys


def _month_label(key):
    return key  # YYYY-MM reads the same in kk, ru and en


# ---- the charts -----------------------------------------------------------------------------------------------

def _type_series():
    return [Series(t, labels.label(t, "request_type")) for t in REQUEST_TYPES]


def requests_by_type(months=DEFAULT_MONTHS):
    start, keys = window(months)
    month = _local(PrivacyRequest.received_at, "month")
    counts = {(m, t): n for m, t, n in db.session.execute(
        select(month, PrivacyRequest.type, func.count()).where(PrivacyRequest.received_at >= start)
        .group_by(month, PrivacyRequest.type))}
    chart = Chart("requests_by_type", _l("Requests by type per month"),
                  _l("Requests received each month (Almaty time), by type."), _l("Month"), _l("Requests"),
                  _type_series())
    chart.rows = [(_month_label(k), [count_cell(counts.get((k, t), 0)) for t in REQUEST_TYPES]) for k in keys]
    return chart


def working_days_between(received, completed):
    """Working days after the day of receipt up to the day of completion (the deadlines' own way of counting)."""
    return deadlines.working_days_between(received, completed)


def _percentile(histogram, q):
    """The q-quantile (nearest rank) of a {value: count} histogram."""
    total = sum(histogram.values())
    rank = max(1, -(-int(q * total * 1000) // 1000))  # ceil(q × total) without float noise
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None


def completion_time(months=DEFAULT_MONTHS):
    """Median and 90th percentile of working days from receipt to completion, per type, beside the statutory period.

    The database groups completed requests by (type, local day received, local day completed); only those
    groups (a few thousand at most) reach Python, where the working-day calendar turns each into days.
    """
    start, _keys = window(months)
    received = _local(PrivacyRequest.received_at, "day")
    completed = _local(PrivacyRequest.completed_at, "day")
    histograms = {t: {} for t in REQUEST_TYPES}
    for request_type, r_day, c_day, n in db.session.execute(
            select(PrivacyRequest.type, received, completed, func.count())
            .where(PrivacyRequest.status == COMPLETED, PrivacyRequest.completed_at >= start)
            .group_by(PrivacyRequest.type, received, completed)):
        days = working_days_between(dt.date.fromisoformat(r_day), dt.date.fromisoformat(c_day))
        bucket = histograms.setdefault(request_type, {})
        bucket[days] = bucket.get(days, 0) + n
    statutory = dict(db.session.execute(select(DeadlineRule.request_type, DeadlineRule.working_days)).all())
    for request_type, (days, *_rest) in deadlines.DEFAULT_RULES.items():
        statutory.setdefault(request_type, days)
    chart = Chart("completion_time", _l("Time to complete"),
                  _l("Working days from receipt to completion, per type, against the statutory period."),
                  _l("Request type"), _l("Working days"),
                  [Series("completed", _l("Completed"), plot=False), Series("median", _l("Median")),
                   Series("p90", _l("90th percentile")), Series("deadline", _l("Statutory period"))])
    for request_type in REQUEST_TYPES:
        histogram = histograms.get(request_type, {})
        total = sum(histogram.values())
        median = _percentile(histogram, 0.5) if total else None
        p90 = _percentile(histogram, 0.9) if total else None
        deadline = statutory.get(request_type)
        chart.rows.append((labels.label(request_type, "request_type"), [
            count_cell(total), measure_cell(median, total), measure_cell(p90, total),
            Cell(deadline, format_decimal(deadline), str(deadline)) if deadline is not None else Cell(None, "—", ""),
        ]))
    return chart


def on_time(months=DEFAULT_MONTHS):
    start, keys = window(months)
    month = _local(PrivacyRequest.completed_at, "month")
    late = case((and_(PrivacyRequest.due_at.is_not(None), PrivacyRequest.completed_at > PrivacyRequest.due_at), 1),
                else_=0)
    rows = {m: (n, n - (late_n or 0)) for m, n, late_n in db.session.execute(
        select(month, func.count(), func.sum(late))
        .where(PrivacyRequest.status == COMPLETED, PrivacyRequest.completed_at >= start).group_by(month))}
    chart = Chart("on_time", _l("Completed on time"),
                  _l("Share of the requests completed each month that were completed by their due date."),
                  _l("Month"), _l("Share (%)"),
                  [Series("completed", _l("Completed"), plot=False), Series("on_time", _l("On time"), plot=False),
                   Series("share", _l("Share on time"))])
    for key in keys:
        total, in_time = rows.get(key, (0, 0))
        chart.rows.append((_month_label(key), [
            count_cell(total), count_cell(in_time), measure_cell(in_time / total if total else None, total,
                                                                 percent=True)]))
    return chart


def overdue_trend(months=DEFAULT_MONTHS):
    """Requests that missed their due date, by the month the due date fell in (completed late, or still open)."""
    start, keys = window(months)
    now = utcnow()
    month = _local(PrivacyRequest.due_at, "month")
    late_completed = and_(PrivacyRequest.completed_at.is_not(None), PrivacyRequest.completed_at > PrivacyRequest.due_at)
    still_open = and_(PrivacyRequest.completed_at.is_(None), PrivacyRequest.status.in_(OPEN_STATUSES))
    counts = {(m, kind): n for m, kind, n in db.session.execute(
        select(month, case((late_completed, literal("late")), else_=literal("open")).label("kind"), func.count())
        .where(PrivacyRequest.due_at >= start, PrivacyRequest.due_at < now, or_(late_completed, still_open))
        .group_by(month, "kind"))}
    chart = Chart("overdue", _l("Overdue requests"),
                  _l("Requests whose due date fell in the month and was missed: completed late, or still open."),
                  _l("Month of the due date"), _l("Requests"),
                  [Series("late", _l("Completed late")), Series("open", _l("Still open"))])
    chart.rows = [(_month_label(k), [count_cell(counts.get((k, "late"), 0)), count_cell(counts.get((k, "open"), 0))])
                  for k in keys]
    return chart


def rejections_and_partial(months=DEFAULT_MONTHS):
    """Rejections (the reason is free text written to the client, so they are counted by request type) and partial
    erasures by the reason records were kept (the certificate's first exception)."""
    start, _keys = window(months)
    rejected = dict(db.session.execute(
        select(PrivacyRequest.type, func.count())
        .where(PrivacyRequest.status == REJECTED, PrivacyRequest.completed_at >= start)
        .group_by(PrivacyRequest.type)).all())
    outcome = PrivacyRequest.certificate["outcome"].as_string()
    reason = PrivacyRequest.certificate[("exceptions", 0, "reason")].as_string()
    partial = dict(db.session.execute(
        select(reason, func.count())
        .where(PrivacyRequest.status == COMPLETED, PrivacyRequest.completed_at >= start, outcome == "partial")
        .group_by(reason)).all())
    chart = Chart("rejections", _l("Rejections and partial completions by reason"),
                  _l("Rejected requests by type, and erasures completed in part by the reason records were kept."),
                  _l("Reason"), _l("Requests"), [Series("count", _l("Requests"))])
    for request_type in REQUEST_TYPES:
        chart.rows.append((_l("Rejected: %(type)s", type=labels.label(request_type, "request_type")),
                           [count_cell(rejected.get(request_type, 0))]))
    for code in sorted(set(labels.EXCEPTION_REASONS) | {k for k in partial if k}):
        chart.rows.append((_l("Partially completed: %(reason)s", reason=labels.label(code, "exception_reason")),
                           [count_cell(partial.get(code, 0))]))
    return chart


def optouts_by_channel(months=DEFAULT_MONTHS):
    start, keys = window(months)
    month = _local(MarketingOptOut.created_at, "month")
    counts = {(m, c): n for m, c, n in db.session.execute(
        select(month, MarketingOptOut.channel, func.count()).where(MarketingOptOut.created_at >= start)
        .group_by(month, MarketingOptOut.channel))}
    chart = Chart("optouts", _l("Marketing opt-outs per month by channel"),
                  _l("Opt-outs registered each month (policy 3.2.2), by marketing channel."), _l("Month"),
                  _l("Opt-outs"), [Series(c, labels.label(c, "optout_channel")) for c in OPT_OUT_CHANNELS])
    chart.rows = [(_month_label(k), [count_cell(counts.get((k, c), 0)) for c in OPT_OUT_CHANNELS]) for k in keys]
    return chart


ERASURE_OUTCOMES = {
    "complete": _l("Erased completely"), "partial": _l("Erased in part (records kept by law)"),
    "failed": _l("Failed"), "rejected": _l("Rejected"), "cancelled": _l("Cancelled"), "open": _l("Still open"),
}


def erasures_by_outcome(months=DEFAULT_MONTHS):
    start, _keys = window(months)
    outcome = PrivacyRequest.certificate["outcome"].as_string()
    kind = case(
        (and_(PrivacyRequest.status == COMPLETED, outcome == "partial"), literal("partial")),
        (PrivacyRequest.status == COMPLETED, literal("complete")),
        (PrivacyRequest.status == FAILED, literal("failed")),
        (PrivacyRequest.status == REJECTED, literal("rejected")),
        (PrivacyRequest.status == CANCELLED, literal("cancelled")),
        else_=literal("open")).label("kind")
    counts = dict(db.session.execute(
        select(kind, func.count()).where(PrivacyRequest.type == ERASURE, PrivacyRequest.received_at >= start)
        .group_by("kind")).all())
    chart = Chart("erasures", _l("Erasures by outcome"),
                  _l("Erasure requests received in the period, by where they ended."), _l("Outcome"),
                  _l("Requests"), [Series("count", _l("Requests"))])
    chart.rows = [(label, [count_cell(counts.get(code, 0))]) for code, label in ERASURE_OUTCOMES.items()]
    return chart


CHARTS = {
    "requests_by_type": requests_by_type,
    "completion_time": completion_time,
    "on_time": on_time,
    "overdue": overdue_trend,
    "rejections": rejections_and_partial,
    "optouts": optouts_by_channel,
    "erasures": erasures_by_outcome,
}


def chart(key, months=DEFAULT_MONTHS):
    """One chart by key (KeyError for an unknown key); reads only, aggregates only."""
    return CHARTS[key](months)


@user_action
def download(key, months=DEFAULT_MONTHS):
    """The chart for a CSV download, audited (what was handed out: the chart's key and period, no data)."""
    result = chart(key, months)
    audit.record("statistics.download", object_type="statistics", object_id=key, details={"months": result_months(months)})
    return result


def result_months(months):
    return max(1, min(int(months), MAX_MONTHS))


def all_charts(months=DEFAULT_MONTHS):
    return [build(months) for build in CHARTS.values()]
