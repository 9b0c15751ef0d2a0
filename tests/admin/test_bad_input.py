"""Bad input anywhere gets an answer, never a 500, and changes no business data.

Every POST endpoint of the app is sent hostile values (over-long text, broken identifiers, wrong types, spreadsheet
formulas, markup) by a user holding every role, and every list page is opened with hostile query parameters.
"""
import datetime as dt

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import (Booking, BreachAffectedClient, BreachIncident, BreachStep, Client, ComplianceSetting,
                               Communication, Consent, DeadlineRule, DisclosureGrant, DisclosureLog, IntegrationToken,
                               Letter, MarketingOptOut, NoticeVersion, OptOutImport, PrivacyRequest, RetentionRule,
                               StaffUser)
from backoffice.services import breaches, compliance_settings, disclosures, optout_import_runs, retention
from tests.factories import make_client
from tests.services.test_scrub import Upload

LONG = "Ж" * 20000
HOSTILE = {
    "email": "not-an-e-mail", "requester_email": "a@", "phone": "+7 000", "requester_phone": "12",
    "iin": "123456789012", "new_iin": "123456789013", "identifier": "=HYPERLINK(\"http://x\")",
    "full_name": LONG, "requester_name": LONG, "description": LONG, "comment": LONG, "reason": LONG,
    "outcome": LONG, "id": "abc", "rowid": ["abc", "-1", "99999999"], "client_id": "x", "version": "-5",
    "type": "wizardry", "channel": "pigeon", "action": "<script>alert(1)</script>", "role_list": ["root"],
    "new_password": "x", "date_of_birth": "31.02.1990", "new_date_of_birth": "1990-02-31",
    "blocked_until": "yesterday", "expires_on": "0000-00-00", "received_at": "2999-01-01T00:00",
    "working_days": "-3", "extension_working_days": "many", "column": "'; DROP TABLE client; --",
    "email_column": "99", "phone_column": "-1", "token_id": "abc", "name": LONG, "scope": LONG,
    "recipient": LONG, "method": "telepathy", "assignee": "abc", "to": "abc", "duplicate_of": "abc",
    "purpose": "everything", "source": "nowhere", "csrf_token": "forged",
    # issue 15 (compliance)
    "discovered_at": "2026-02-30T25:00", "discovered_by": LONG, "estimated_count": "-4", "data_categories": ["x"],
    "systems": ["mars"], "selection": "all_of_them", "ids_text": "1,=cmd", "origin": "ALMATY", "date_from": "x",
    "date_to": "2026-13-01", "sent_on": "never", "contact": LONG, "text": LONG, "kind": "maybe",
    "recipient_category": "alien", "legal_basis": "whim", "starts_on": "x", "disclosed_at": "now",
    "law_reference": LONG, "grant_id": "abc", "notice_version_id": "abc", "dormant_years": "-1",
    "responsible_person": LONG, "keep_years": "-1", "after_period": "vaporise", "period_years": "x",
    "legal_reference": "", "effective_on": "x", "text_kk": "", "text_ru": "", "text_en": "",
}
BUSINESS_TABLES = (Client, Consent, DeadlineRule, DisclosureGrant, IntegrationToken, MarketingOptOut,
                   PrivacyRequest, StaffUser, BreachIncident, BreachStep, BreachAffectedClient, DisclosureLog,
                   NoticeVersion, ComplianceSetting, RetentionRule, Booking, Communication, OptOutImport)
SKIP = {"auth.logout", "auth.login", "auth.set_language", "static", "admin.static"}
# GET pages of one object named in the path (issue 13: an opt-out import's page and its JSON): hostile ids too.
ID_PAGES = ("optouts.import_status_view", "optouts.import_status_json")
HOSTILE_IDS = ("1", "0", "2147483648", "99999999999999999999999", "-1", "abc", "1%00", "%2e%2e")
# Lower bounds on what the walks must reach (the app has more; a walk that finds fewer has lost its routes).
MIN_POST_ROUTES = 40  # 46 in December 2026
MIN_LIST_PAGES = 15  # 18 in December 2026


def _post_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if "POST" in rule.methods and rule.endpoint not in SKIP and not rule.endpoint.endswith(".static")]


def _list_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and rule.endpoint not in SKIP
            and not rule.endpoint.endswith(".static")
            and (rule.endpoint.endswith("index_view") or rule.endpoint.endswith(".index")
                 or rule.endpoint.endswith("details_view"))]


def _counts():
    return {model.__tablename__: db.session.execute(select(func.count()).select_from(model)).scalar()
            for model in BUSINESS_TABLES}


@pytest.fixture
def everything(app, login_as):
    make_client()
    user = login_as("support", "manager", "supervisor", "admin")
    # Issue 15: objects with id 1, so the walk reaches the real handlers behind /<int:id>/ URLs.
    breaches.report(user, discovered_at=dt.datetime(2026, 11, 1, 9), discovered_by="x", description="x",
                    data_categories=["contact"], systems=["other"], estimated_count=1)
    disclosures.create_grant(user, client_id=1, recipient="R", recipient_category="agency",
                             legal_basis="contract", data_categories=["booking"])
    retention.ensure_default_rules()
    db.session.commit()
    optout_import_runs.start(Upload(b"email\nanna@mail.kz\n"), by=user)  # import #1 (committed)
    return user


POST_SHARDS = 4  # the walk is split so that the suite's processes share it


@pytest.mark.parametrize("shard", range(POST_SHARDS))
def test_hostile_posts_never_500_and_change_nothing(app, client, everything, shard):
    before = _counts()
    rules = _post_rules(app)
    mine = rules[shard::POST_SHARDS]
    checked = 0
    for rule in mine:
        values = {arg: ("csv" if arg == "export_type" else "1") for arg in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        for query in ("", "?id=1", "?id=abc"):
            # Multipart (as a browser sends a form with a file): the same fields reach the views, without
            # percent-decoding ~1.7 MB of Cyrillic per request in pure Python (most of this walk's time).
            response = client.post(url + query, data=HOSTILE, content_type="multipart/form-data")
            assert response.status_code < 500, f"POST {url}{query} ({rule.endpoint}) → {response.status_code}"
            assert response.status_code != 413, f"POST {url}{query}: the form never reached the view"
            checked += 1
    db.session.expire_all()
    assert _counts() == before
    assert len(rules) >= MIN_POST_ROUTES, f"only {len(rules)} POST routes found"
    assert mine and checked == 3 * len(mine)


@pytest.mark.parametrize("params", [
    {"search": LONG}, {"search": "' OR 1=1 --"}, {"search": "%_%"}, {"page": "-7"}, {"page": "abc"},
    {"page": "99999999"}, {"sort": "999"}, {"sort": "abc", "desc": "x"}, {"page_size": "100000"},
    {"flt0_0": LONG}, {"flt1_1": "not-a-date"}, {"after": "abc"}, {"before": "-1"}, {"id": "abc"},
])
def test_hostile_list_parameters_never_500(app, client, everything, params):
    checked = 0
    for rule in _list_rules(app):
        response = client.get(rule.rule, query_string=params)
        assert response.status_code < 500, f"GET {rule.rule} {params} → {response.status_code}"
        checked += 1
    assert checked >= MIN_LIST_PAGES, f"only {checked} list pages exercised"


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_ids_in_paths_never_500(app, client, everything, value):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint in ID_PAGES]
    assert len(rules) == len(ID_PAGES)
    for rule in rules:
        url = rule.rule.replace(f"<int:{next(iter(rule.arguments))}>", value)
        for params in ({}, {"id": "abc"}, {"search": LONG}, {"page": "-7"}):
            response = client.get(url, query_string=params)
            assert response.status_code < 500, f"GET {url} {params} → {response.status_code}"
            if value == "1" and not params:
                assert response.status_code == 200, url  # the walk reaches the real handler


def test_hostile_breach_notify_and_register_downloads_change_nothing(app, client, everything):
    """The breach notice action with every broken version, confirmation and id queues nothing and never 500s;
    a register download in an unknown format or language is 404."""
    compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: "DPO"}, everything)
    breaches.add_affected(1, everything, selection="id_list", ids_text="1")
    before = _counts()
    for version in ("-5", "abc", "", "99999999999999", LONG, "1; DROP TABLE letter", "0"):
        for confirmed in ("1", "yes", LONG):
            response = client.post("/admin/breaches/1/notify/", data={**HOSTILE, "confirmed": confirmed,
                                                                      "version": version},
                                   content_type="multipart/form-data")
            assert response.status_code < 500, (version[:20], confirmed[:20])
    for url in ("/admin/breaches/99999999999999999999999/notify/", "/admin/breaches/0/notify/"):
        assert client.get(url).status_code == 404
        assert client.post(url, data={"confirmed": "1", "version": "1"}).status_code == 404
    for url in ("/admin/register/xls/ru/", "/admin/register/pdf/de/", "/admin/register/csv/" + "x" * 500 + "/",
                "/admin/register/pdf/../etc/"):
        assert client.get(url).status_code == 404, url
    db.session.expire_all()
    assert _counts() == before
    assert db.session.execute(select(func.count()).select_from(Letter)).scalar() == 0
