"""Statutory deadlines on the Kazakhstan working-day calendar (kz-law-notes.md)."""
import datetime as dt

import pytest

from backoffice.extensions import db
from backoffice.models.deadlines import DeadlineRule
from backoffice.services import deadlines


def almaty(y, m, d, hh=10, mm=0):
    """A naive-UTC timestamp for a wall-clock time in Almaty (UTC+5)."""
    return dt.datetime(y, m, d, hh, mm) - dt.timedelta(hours=5)


def end_of_day_utc(y, m, d):
    return dt.datetime(y, m, d, 18, 0) - dt.timedelta(hours=5)


@pytest.mark.parametrize("received,days,due", [
    # Friday 20 March 2026, the working day before Nauryz (21–23 March, observed 24–25 March):
    # the next working day is Thursday 26 March.
    (almaty(2026, 3, 20), 1, end_of_day_utc(2026, 3, 26)),
    (almaty(2026, 3, 20), 3, end_of_day_utc(2026, 3, 30)),
    # 2025: Thursday 20 March → Nauryz 21–25 March (22–23 a weekend, observed 24–25) → Wednesday 26 March.
    (almaty(2025, 3, 20), 1, end_of_day_utc(2025, 3, 26)),
    # An ordinary week: Tuesday → Wednesday; Friday → Monday across the weekend.
    (almaty(2026, 11, 24), 1, end_of_day_utc(2026, 11, 25)),
    (almaty(2026, 11, 27), 1, end_of_day_utc(2026, 11, 30)),
    (almaty(2026, 11, 27), 3, end_of_day_utc(2026, 12, 2)),
    # Received on a Saturday: counted as received on Monday, so 1 working day ends on Tuesday.
    (almaty(2026, 11, 28), 1, end_of_day_utc(2026, 12, 1)),
    # Saturday 4 May 2024 was a working day (moved to Wednesday 8 May): Friday 3 May + 1 = Saturday 4 May;
    # Monday 6 May + 2 → Tuesday 7 May is Defender's Day, Wednesday 8 May the moved day off, 9 May Victory Day → 10 May.
    (almaty(2024, 5, 3), 1, end_of_day_utc(2024, 5, 4)),
    (almaty(2024, 5, 6), 1, end_of_day_utc(2024, 5, 10)),
    # Independence Day, Wednesday 16 December 2026.
    (almaty(2026, 12, 15), 1, end_of_day_utc(2026, 12, 17)),
    # 0 days (marketing opt-out): end of the same working day; on a holiday, end of the next working day.
    (almaty(2026, 11, 24), 0, end_of_day_utc(2026, 11, 24)),
    (almaty(2026, 3, 23), 0, end_of_day_utc(2026, 3, 26)),
])
def test_due_dates_follow_the_kazakhstan_calendar(app, received, days, due):
    assert deadlines.due_after(received, days) == due


def test_late_evening_in_almaty_is_already_the_next_day_in_utc_terms(app):
    # 23:30 Almaty on Tuesday is 18:30 UTC on Tuesday: still Tuesday locally, so due Wednesday.
    received = almaty(2026, 11, 24, 23, 30)
    assert deadlines.due_after(received, 1) == end_of_day_utc(2026, 11, 25)
    # 01:00 Almaty on Wednesday is 20:00 UTC on Tuesday: locally Wednesday, so due Thursday.
    assert deadlines.due_after(almaty(2026, 11, 25, 1, 0), 1) == end_of_day_utc(2026, 11, 26)


def test_working_day_calendar(app):
    assert not deadlines.is_working_day(dt.date(2026, 3, 23))  # Nauryz
    assert not deadlines.is_working_day(dt.date(2026, 3, 25))  # Nauryz, observed
    assert deadlines.is_working_day(dt.date(2024, 5, 4))  # a Saturday made a working day
    assert not deadlines.is_working_day(dt.date(2026, 11, 28))  # Saturday


def test_extension_adds_working_days_past_the_current_deadline(app):
    due = end_of_day_utc(2026, 3, 20)
    assert deadlines.extend(due, 2) == end_of_day_utc(2026, 3, 27)


def test_rules_are_seeded_with_the_defaults_and_editable(app):
    rule = deadlines.rule_for("access")
    assert (rule.working_days, rule.legal_reference) == (3, deadlines.DEFAULT_RULES["access"][2])
    assert db.session.query(DeadlineRule).count() == len(deadlines.DEFAULT_RULES)
    rule.working_days = 5
    db.session.commit()
    assert deadlines.initial_due_at("access", almaty(2026, 11, 23)) == end_of_day_utc(2026, 11, 30)
    assert deadlines.ensure_default_rules() == 0


def test_consent_withdrawal_is_counted_from_approval(app):
    assert deadlines.initial_due_at("consent_withdrawal", almaty(2026, 11, 23)) is None
    assert deadlines.due_on_approval("consent_withdrawal", almaty(2026, 11, 27), None) == end_of_day_utc(2026, 11, 30)


def test_workday_end_is_configurable(app):
    app.config["BACKOFFICE_WORKDAY_END"] = "23:59"
    assert deadlines.due_after(almaty(2026, 11, 24), 1) == dt.datetime(2026, 11, 25, 18, 59)


def test_working_days_between_agrees_with_counting_day_by_day():
    import random

    def by_hand(start, end):
        count, day = 0, start
        while day < end:
            day = deadlines.next_working_day(day)
            count += day <= end
        return count

    rng = random.Random(14)
    base = dt.date(2024, 1, 1)
    pairs = [(base + dt.timedelta(days=rng.randrange(1500)), base + dt.timedelta(days=rng.randrange(1500)))
             for _ in range(300)]
    pairs += [(dt.date(2025, 12, 31), dt.date(2026, 1, 1)), (dt.date(2026, 3, 20), dt.date(2026, 3, 26)),
              (dt.date(2024, 12, 31), dt.date(2027, 1, 4)), (dt.date(2026, 1, 1), dt.date(2026, 1, 1))]
    for start, end in pairs:
        assert deadlines.working_days_between(start, end) == by_hand(start, end), (start, end)
    assert deadlines.working_days_between(dt.date(2026, 3, 20), dt.date(2026, 3, 26)) == 1  # Nauryz in between
