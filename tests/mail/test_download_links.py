"""The export download link (policy 5.4): link and code in two letters, 5 wrong codes lock it, expires, audited."""
import datetime as dt
import re

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.jobs import ExportPackage
from backoffice.models.mail import DownloadLink
from backoffice.services import download_links, export, letters
from tests.jobfactories import approved_request
from tests.factories import make_client


def _completed_access(app, smtp, language="en"):
    client = make_client(email="dl@mail.kz", preferred_language=language)
    req = approved_request(client, "access")
    export.build_export(req.id)
    assert letters.send_due()["sent"] == 2
    bodies = {m["Subject"]: m.get_content() for m in smtp.messages}
    link_body = next(b for s, b in bodies.items() if "ready" in s or "готовы" in s or "дайын" in s)
    code_body = next(b for s, b in bodies.items() if "code" in s.lower() or "код" in s.lower())
    token = re.search(r"/download/([A-Za-z0-9_-]+)", link_body).group(1)
    code = re.search(r"\b(\d{6})\b", code_body).group(1)
    assert code not in link_body and token not in code_body  # two letters: the link alone opens nothing
    return req, token, code


def test_the_right_code_downloads_the_package_and_is_audited(app, client, smtp):
    req, token, code = _completed_access(app, smtp)
    link_url = next(m.get_content() for m in smtp.messages if token in m.get_content())
    url = re.search(r"\S*/download/\S+", link_url).group(0)
    assert url.endswith(f"/download/{token}") and "@" not in url and len(token) >= 40  # nothing but the token
    assert db.session.execute(select(DownloadLink.token_hash)).scalar_one() != token  # only its hash is stored
    page = client.get(f"/download/{token}")
    assert page.status_code == 200 and "One-time code" in page.get_data(as_text=True)
    response = client.post(f"/download/{token}", data={"code": code})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.data[:2] == b"PK"
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "download.public" in actions and "export.download" in actions
    assert db.session.execute(select(DownloadLink.downloads)).scalar_one() == 1


def test_five_wrong_codes_lock_the_link(app, client, smtp):
    _, token, code = _completed_access(app, smtp)
    for left in (4, 3, 2, 1):
        page = client.post(f"/download/{token}", data={"code": "000000" if code != "000000" else "111111"})
        assert f"Attempts left: {left}" in page.get_data(as_text=True)
    client.post(f"/download/{token}", data={"code": "999999" if code != "999999" else "111111"})
    locked = client.post(f"/download/{token}", data={"code": code})
    assert locked.mimetype != "application/zip" and "locked" in locked.get_data(as_text=True)
    assert db.session.execute(select(DownloadLink.locked_at)).scalar_one() is not None


def test_the_link_expires_with_the_package(app, client, smtp):
    _, token, code = _completed_access(app, smtp)
    package = db.session.execute(select(ExportPackage)).scalar_one()
    package.expires_at = dt.datetime(2000, 1, 1)
    db.session.commit()
    response = client.post(f"/download/{token}", data={"code": code})
    assert response.mimetype != "application/zip" and "expired" in response.get_data(as_text=True)


def test_unknown_token_is_404_and_the_page_is_translated(app, client, smtp):
    assert client.get("/download/nope").status_code == 404
    _, token, _ = _completed_access(app, smtp, language="ru")
    page = client.get(f"/download/{token}?lang=ru").get_data(as_text=True)
    assert "Скачать" in page or "Одноразовый код" in page
    kk = client.get(f"/download/{token}?lang=kk").get_data(as_text=True)
    assert "Жүктеп алу" in kk or "Бір реттік код" in kk


def test_staff_can_issue_a_code_to_read_by_phone(app, client, smtp, make_staff):
    _, token, old_code = _completed_access(app, smtp)
    link = db.session.execute(select(DownloadLink)).scalar_one()
    new_code = download_links.new_code_for_phone(link.id, make_staff("support"))
    assert client.post(f"/download/{token}", data={"code": old_code}).mimetype != "application/zip" \
        or old_code == new_code
    assert client.post(f"/download/{token}", data={"code": new_code}).mimetype == "application/zip"
