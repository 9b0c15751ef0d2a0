"""Search terms never appear in a URL, and list and request-page reads are audited by ids (issue 13)."""
import json
import re

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services import intake
from tests.factories import make_client

HREF_RE = re.compile(r'(?:href|action|value)="([^"]*)"')


def _events(action):
    db.session.expire_all()
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).scalars().all()


def test_client_search_by_post_leaves_only_a_token_in_urls(browser, make_staff):
    aigul = make_client(email="aigul.s@mail.kz", phone="+77011234567")
    browser.login(make_staff("support"))
    for term in ("aigul.s@mail.kz", "+7 701 123 45 67"):
        response = browser.post("/admin/clients/search/", {"search": term}, csrf_from="/admin/clients/")
        assert response.status_code == 302
        location = response.headers["Location"]
        assert re.fullmatch(r"/admin/clients/\?search=st_[0-9a-f]{24}", location)
        page = browser.get(location)
        assert page.status_code == 200 and f"/admin/clients/details/?id={aigul.id}" in page.text
        links = [link for link in HREF_RE.findall(page.text) if "search=" in link]
        assert links and all(re.search(r"search=st_[0-9a-f]{24}", link) for link in links), links


def test_a_typed_search_url_is_swapped_for_a_token(browser, make_staff):
    make_client(email="boris@mail.kz")
    browser.login(make_staff("support"))
    response = browser.get("/admin/clients/?search=boris@mail.kz")
    assert response.status_code == 302 and "boris" not in response.headers["Location"]


def test_tokens_belong_to_one_session(browser, new_browser, make_staff):
    make_client(email="dana@mail.kz")
    user = make_staff("support")
    browser.login(user)
    location = browser.post("/admin/clients/search/", {"search": "dana@mail.kz"},
                            csrf_from="/admin/clients/").headers["Location"]
    other = new_browser()
    other.login(make_staff("support"))
    page = other.get(location).text
    assert "expired" in page and 'value="dana@mail.kz"' not in page


def test_list_pages_and_request_pages_are_audited_by_ids_never_the_term(browser, make_staff):
    shown = make_client(email="erlan@mail.kz")
    browser.login(make_staff("support", "manager"))
    location = browser.post("/admin/clients/search/", {"search": "erlan@mail.kz"},
                            csrf_from="/admin/clients/").headers["Location"]
    browser.get(location)
    event = _events("client.list")[-1]
    details = json.loads(event.details)
    assert details["ids"] == [shown.id] and details["searched"] is True
    assert "erlan" not in event.details
    browser.get("/admin/requests/")
    assert _events("privacy_request.list")
    req = intake.create_request(by=make_staff("support"), type="access", channel="email", requester_name="Erlan",
                                requester_email="erlan@mail.kz")
    browser.get(f"/admin/requests/details/?id={req.id}")
    assert [e.object_id for e in _events("privacy_request.read")] == [str(req.id)]
