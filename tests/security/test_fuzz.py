"""A bounded hypothesis fuzz: every form and every list's query parameters, hostile values, never a 500.

Runs in-process through the test client (the attack tests above use the real server); ≤ 2 minutes in CI
(FUZZ_EXAMPLES examples per target, no shrinking database).
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_client

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
SKIP = {"auth.logout", "static", "admin.static"}
FIELDS = ("email", "password", "code", "search", "id", "op", "type", "channel", "requester_name", "requester_email",
          "requester_phone", "comment", "reason", "role_list", "full_name", "new", "confirm", "current", "session_id",
          "file", "email_column", "phone_column", "version", "step", "rowid", "action", "url", "name", "scope")
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["99999999999999999999999", "-1", "0", "1e308", "NaN", "2999-99-99", "1990-02-31",
                     "' OR 1=1 --", "<script>alert(1)</script>", "=HYPERLINK(\"x\")", "../../etc/passwd",
                     "\r\nSet-Cookie: x=1", "%00", "[" * 50, "Ж" * 2100, "st_" + "0" * 24, ""]),
)
QUERY_KEYS = ("page", "page_size", "sort", "desc", "search", "after", "before", "id", "flt0_0", "flt1_4", "flt0_38",
              "flt0_21", "flt2_43", "flt0_6", "next")


def _settings():
    return settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def signed_in_everything(app, client, login_as):
    make_client()
    login_as("support", "manager", "supervisor", "admin")
    return client


def _list_pages(app):
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.arguments
                   and rule.endpoint.endswith(("index_view", ".index", "details_view", "export_csv",
                                               "export_csv_view"))})


def _post_targets(app):
    targets = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in SKIP or rule.endpoint.endswith(".static"):
            continue
        values = {arg: ("csv" if arg == "export_type" else "1") for arg in rule.arguments}
        targets.append(rule.build(values, append_unknown=False)[1])
    return sorted(set(targets))


def test_list_query_parameters_never_500(app, signed_in_everything):
    pages = _list_pages(app)
    assert len(pages) > 8

    @_settings()
    @given(page=st.sampled_from(pages), params=st.dictionaries(st.sampled_from(QUERY_KEYS), hostile_text,
                                                               max_size=4))
    def probe(page, params):
        response = signed_in_everything.get(page, query_string=params)
        assert response.status_code < 500, (page, params, response.status_code)

    probe()


def test_every_form_never_500(app, signed_in_everything):
    targets = _post_targets(app)
    assert len(targets) > 20

    @_settings()
    @given(target=st.sampled_from(targets), form=st.dictionaries(st.sampled_from(FIELDS), hostile_text, max_size=6))
    def probe(target, form):
        response = signed_in_everything.post(target, data=form)
        assert response.status_code < 500, (target, form, response.status_code)

    probe()


def test_sign_in_forms_never_500_for_anonymous_users(app, client):
    @_settings()
    @given(path=st.sampled_from(["/login", "/login/code", "/login/enrol", "/login?next=%2F%0d%0a"]),
           form=st.dictionaries(st.sampled_from(("email", "password", "code")), hostile_text, max_size=3))
    def probe(path, form):
        response = client.post(path, data=form)
        assert response.status_code < 500, (path, form, response.status_code)

    probe()
