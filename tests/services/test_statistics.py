"""Statistics (policy 3.2.3): aggregate SQL only, small counts suppressed everywhere, figures right."""
import datetime as dt

import pytest
from sqlalchemy import event, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.optouts import MarketingOptOut
from backoffice.models.requests import PrivacyRequest
from backoffice.services import deadlines, statistics


def _add_requests(n, type_="access", status="completed", received=None, work_days=1, late=False, certificate=None):
    # A day ago to the minute (not a fixed hour of the UTC day): its Almaty month is _this_month() whatever the
    # time of day, and a completion one working day on is now, not later today.
    received = received or utcnow() - dt.timedelta(days=1)
    local_day = deadlines.local_datetime(received).date()
    done_day = deadlines.add_working_days(local_day, work_days)
    completed = received + dt.timedelta(days=(done_day - local_day).days) if status in ("completed", "rejected") else None
    due = (completed - dt.timedelta(hours=1)) if late and completed else received + dt.timedelta(days=30)
    db.session.add_all([PrivacyRequest(type=type_, channel="email", status=status, received_at=received,
                                       due_at=due, completed_at=completed, certificate=certificate)
                        for _ in range(n)])
    db.session.commit()


def _row(chart, category):
    for label, cells in chart.rows:
        if str(label) == category:
            return cells
    raise AssertionError(f"{category} not in {[str(label) for label, _ in chart.rows]}")


def _this_month():
    return deadlines.local_datetime(utcnow() - dt.timedelta(days=1)).strftime("%Y-%m")


def test_small_counts_are_suppressed_and_others_shown(app):
    _add_requests(3, "erasure", status="received")
    _add_requests(7, "access", status="received")
    chart = statistics.requests_by_type()
    cells = dict(zip([s.code for s in chart.series], _row(chart, _this_month())))
    assert cells["erasure"].text == "<5" and cells["erasure"].value is None and cells["erasure"].csv == "<5"
    assert cells["access"].value == 7 and cells["access"].csv == "7"
    assert cells["rectification"].text == "0"


def test_median_and_p90_in_working_days_hidden_below_five(app):
    for days, n in ((1, 5), (2, 4), (6, 1)):
        _add_requests(n, "access", work_days=days)
    _add_requests(2, "erasure", work_days=1)
    chart = statistics.completion_time()
    completed, median, p90, deadline = _row(chart, "Access / information about processing")
    assert (completed.value, median.value, p90.value) == (10, 1, 2)
    assert deadline.value == deadlines.DEFAULT_RULES["access"][0]
    completed, median, p90, _deadline = _row(chart, "Erasure")
    assert completed.text == "<5" and median.value is None and p90.value is None and median.csv == ""


def test_on_time_share_and_overdue_trend(app):
    _add_requests(6, "access", work_days=1)
    _add_requests(6, "access", work_days=1, late=True)
    completed, in_time, share = _row(statistics.on_time(), deadlines.local_datetime(utcnow()).strftime("%Y-%m"))
    assert (completed.value, in_time.value) == (12, 6) and share.csv == "50.0"
    past_due = utcnow() - dt.timedelta(days=40)
    db.session.add_all([PrivacyRequest(type="access", channel="email", status="in_progress", received_at=past_due,
                                       due_at=utcnow() - dt.timedelta(hours=2)) for _ in range(5)])
    db.session.commit()
    late, still_open = _row(statistics.overdue_trend(), deadlines.local_datetime(utcnow()).strftime("%Y-%m"))
    assert still_open.value == 5 and late.value == 6


def test_erasures_rejections_partial_and_optouts(app):
    partial = {"outcome": "partial", "exceptions": [{"reason": "unflown_ticket", "count": 1}]}
    _add_requests(5, "erasure", certificate=partial)
    _add_requests(2, "erasure", certificate={"outcome": "complete", "exceptions": []})
    _add_requests(6, "erasure", status="rejected")
    erasures = statistics.erasures_by_outcome()
    assert _row(erasures, "Erased in part (records kept by law)")[0].value == 5
    assert _row(erasures, "Erased completely")[0].text == "<5"
    assert _row(erasures, "Rejected")[0].value == 6
    reasons = statistics.rejections_and_partial()
    assert _row(reasons, "Rejected: Erasure")[0].value == 6
    assert _row(reasons, "Partially completed: ticket not yet flown")[0].value == 5
    db.session.add_all([MarketingOptOut(channel="sms", source="staff_entry") for _ in range(5)]
                       + [MarketingOptOut(channel="email", source="staff_entry")])
    db.session.commit()
    optouts = statistics.optouts_by_channel()
    cells = dict(zip([s.code for s in optouts.series], _row(optouts, deadlines.local_datetime(utcnow()).strftime("%Y-%m"))))
    assert cells["sms"].value == 5 and cells["email"].text == "<5"


def test_only_aggregate_queries_reach_the_data(app):
    _add_requests(6, "access")
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        statistics.all_charts()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    data = [s for s in statements if "privacy_request" in s or "marketing_opt_out" in s]
    assert len(data) >= 7
    for statement in data:
        assert "GROUP BY" in statement.upper(), statement
        assert "requester_" not in statement and "email" not in statement.replace("email_", ""), statement


def test_window_is_clamped():
    assert statistics.result_months(10_000) == statistics.MAX_MONTHS
    assert statistics.result_months(-3) == 1


def test_working_days_between_follows_the_kz_calendar():
    # 16 December is Independence Day: Tuesday 15th → Friday 18th is two working days (17th, 18th).
    assert statistics.working_days_between(dt.date(2026, 12, 15), dt.date(2026, 12, 18)) == 2
    assert statistics.working_days_between(dt.date(2026, 12, 18), dt.date(2026, 12, 18)) == 0
    for start in (dt.date(2025, 12, 29), dt.date(2026, 3, 6), dt.date(2026, 12, 14)):
        for n in (1, 3, 10):
            assert statistics.working_days_between(start, deadlines.add_working_days(start, n)) == n


@pytest.mark.parametrize("role,status", [("manager", 200), ("supervisor", 200), ("support", 403), ("admin", 403)])
def test_page_roles(client, login_as, role, status):
    login_as(role)
    assert client.get("/admin/statistics/").status_code == status
    assert client.get("/admin/statistics/csv/erasures").status_code == status


def test_page_chart_and_csv_show_suppressed_cells(app, client, login_as):
    _add_requests(3, "erasure", status="received")
    login_as("manager")
    page = client.get("/admin/statistics/?months=abc").get_data(as_text=True)
    section = page[page.index('id="chart-erasures"'):page.index('id="table-erasures"')]
    assert 'class="suppressed"' in section and "&lt;5" in section  # the chart
    table = page[page.index('id="table-erasures"'):]
    assert "<td class=\"text-right\">&lt;5</td>" in table[:table.index("</table>")]  # the table
    response = client.get("/admin/statistics/csv/erasures?months=3")
    assert response.headers["Content-Type"].startswith("text/csv")
    body = response.get_data(as_text=True)
    assert "Still open,<5" in body.splitlines()
    body_part = page[page.index("<h1"):page.index("</section>", page.index('id="chart-erasures"'))]
    assert "<script" not in body_part and "style=" not in body_part  # nothing a CSP would have to allow
    assert client.get("/admin/statistics/csv/nope").status_code == 404


def test_csv_download_is_audited_without_data(app, client, login_as):
    user = login_as("supervisor")
    client.get("/admin/statistics/csv/optouts?months=6")
    event_ = db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert (event_.action, event_.object_type, event_.object_id, event_.actor_id) == (
        "statistics.download", "statistics", "optouts", user.id)
