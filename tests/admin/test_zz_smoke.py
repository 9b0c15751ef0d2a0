import datetime as dt
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.requests import ACCESS, ERASURE, IN_PROGRESS
from tests.services.requestkit import new_request
from tests.factories import make_client

def test_smoke(app, client, make_staff, login_as):
    support = make_staff('support')
    now = utcnow()
    c = make_client(email="zhanar@mail.kz")
    late = new_request(ACCESS, support, client=c, status=IN_PROGRESS, due_at=now - dt.timedelta(days=3))
    soon = new_request(ERASURE, support, status=IN_PROGRESS, due_at=now + dt.timedelta(hours=2))
    login_as("manager")
    client.post("/language/ru", data={})
    for url in ("/admin/requests/", "/admin/requests/?tab=overdue", f"/admin/requests/details/?id={late.id}", f"/admin/requests/status/?id={late.id}"):
        r = client.get(url)
        html = r.get_data(as_text=True)
        print(url, r.status_code)
        i = html.find("<main"); print(html[i:i+6000] if i >= 0 else html[:3000])
    r = client.post("/admin/requests/search/", data={"term": "zhanar@mail.kz"})
    html = r.get_data(as_text=True); print("SEARCH", r.status_code, html.count('data-request') , "model-list" in html, html.count("list-checkbox"))
