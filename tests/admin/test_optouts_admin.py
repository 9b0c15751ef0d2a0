"""The opt-out pages as staff use them: add, search, remove, import, scrub, hash export, tokens, timeline."""
import io
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.optouts import MarketingOptOut
from backoffice.services import optouts
from tests.factories import make_client


def count_entries():
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(MarketingOptOut)).scalar()


def test_support_adds_an_opt_out_and_finds_it_by_exact_address(client, login_as):
    login_as("support")
    response = client.post("/admin/optouts/new/", data={"email": "Anna@Mail.kz", "phone": "", "channel": "all",
                                                        "reason": "asked by phone"})
    assert response.status_code == 302
    assert count_entries() == 1
    page = client.get("/admin/optouts/?search=ANNA@mail.kz", follow_redirects=True).get_data(as_text=True)
    assert "anna@mail.kz" in page
    assert "anna@mail.kz" not in client.get("/admin/optouts/?search=boris@mail.kz", follow_redirects=True).get_data(as_text=True)
    response = client.post("/admin/optouts/new/", data={"email": "nonsense", "channel": "all"})
    assert response.status_code == 200 and count_entries() == 1


def test_search_finds_entries_whose_plaintext_was_erased(client, login_as):
    entry = optouts.add_opt_out(None, "+7 701 555 12 34", "sms").entry
    entry.phone = None
    db.session.commit()
    login_as("supervisor")
    page = client.get("/admin/optouts/?search=8 701 555 12 34", follow_redirects=True).get_data(as_text=True)
    assert "erased (hash kept)" in page


def test_removal_needs_a_reason(client, login_as):
    entry_id = optouts.add_opt_out("a@mail.kz", None, "all").entry.id
    db.session.commit()
    login_as("manager")
    assert client.get(f"/admin/optouts/remove/?id={entry_id}").status_code == 200
    client.post(f"/admin/optouts/remove/?id={entry_id}", data={"reason": ""})
    assert db.session.get(MarketingOptOut, entry_id).removed_at is None
    response = client.post(f"/admin/optouts/remove/?id={entry_id}", data={"reason": "wrong address typed"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(MarketingOptOut, entry_id).removal_reason == "wrong address typed"


def upload(client, url, text, name="list.csv"):
    return client.post(url, data={"file": (io.BytesIO(text.encode("utf-8")), name)},
                       content_type="multipart/form-data")


def test_import_page_queues_the_file_and_its_page_shows_progress_then_the_counts(app, client, login_as):
    worker = app.extensions["embedded_worker"]
    login_as("support")
    response = upload(client, "/admin/optouts/import/", "email,channel\na@mail.kz,all\nA@mail.kz,\nb@mail.kz,sms\n")
    assert response.status_code == 302
    status_url = response.headers["Location"]
    import_id = int(re.search(r"/import/(\d+)/$", status_url).group(1))
    assert count_entries() == 0 and worker.pending() == 1  # the request imported nothing: the job will
    page = client.get(status_url).get_data(as_text=True)
    assert 'data-status-url="/admin/optouts/import/%d/status.json"' % import_id in page and "<progress" in page
    assert "Waiting for a worker" in page
    assert client.get(f"/admin/optouts/import/{import_id}/status.json").get_json()["step"] == "queued"
    assert worker.drain() == 1
    db.session.expire_all()
    page = client.get(status_url).get_data(as_text=True)
    assert "Done: 2 added, 1 already on the list, 0 rejected." in page and "data-status-url" not in page
    assert count_entries() == 2


def test_import_page_lists_the_rows_to_fix_in_the_readers_language(app, client, login_as):
    login_as("manager")
    response = upload(client, "/admin/optouts/import/", "email,channel\na@mail.kz,all\nbad,all\n")
    app.extensions["embedded_worker"].drain()
    db.session.expire_all()
    with client.session_transaction() as session:
        session["language"] = "ru"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<td>3</td>" in page and "Ничего не импортировано" in page and "Эл. почта: " in page
    assert "bad" not in page.split("<table", 1)[1].split("</table>", 1)[0]
    assert count_entries() == 0


def test_import_refused_at_upload_says_why_and_queues_nothing(app, client, login_as):
    login_as("support")
    page = client.post("/admin/optouts/import/", data={"file": (io.BytesIO("почта\n".encode("cp1251")), "x.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "UTF-8" in page
    page = upload(client, "/admin/optouts/import/", "name\nAnna\n").get_data(as_text=True)
    assert "must name an &#39;email&#39;" in page
    assert app.extensions["embedded_worker"].pending() == 0


@pytest.mark.parametrize("role,allowed", [("support", True), ("manager", True), ("supervisor", False),
                                          ("admin", False)])
def test_import_pages_follow_the_import_roles(app, client, login_as, make_staff, role, allowed):
    from backoffice.services import optout_import_runs
    from tests.services.test_scrub import Upload

    run = optout_import_runs.start(Upload(b"email\na@mail.kz\n"), by=make_staff("support"))
    login_as(role)
    for url in ("/admin/optouts/import/", f"/admin/optouts/import/{run.id}/",
                f"/admin/optouts/import/{run.id}/status.json"):
        assert client.get(url).status_code == (200 if allowed else 403), (role, url)
    assert (upload(client, "/admin/optouts/import/", "email\nb@mail.kz\n").status_code == 302) == allowed


def test_import_pages_of_an_unknown_or_hostile_id_are_404(client, login_as):
    login_as("support")
    for import_id in ("999", "0", "99999999999999999999999"):
        assert client.get(f"/admin/optouts/import/{import_id}/").status_code == 404
        response = client.get(f"/admin/optouts/import/{import_id}/status.json")
        assert response.status_code == 404 and "error" in response.get_json()
    assert client.get("/admin/optouts/import/abc/").status_code == 404


def test_scrub_flow_upload_pick_columns_download_once(client, login_as, app):
    make_client(email="ok@mail.kz")
    make_client(email="nc@mail.kz", consents=("identification",))
    login_as("manager")
    response = upload(client, "/admin/optouts/scrub/", "Name;Email\nOk;ok@mail.kz\nNo;nc@mail.kz\nX;x@mail.kz\n")
    assert response.status_code == 302
    columns_url = response.headers["Location"]
    upload_id = re.search(r"/scrub/([0-9a-f]{32})/", columns_url).group(1)
    page = client.get(columns_url).get_data(as_text=True)
    assert "Email" in page
    response = client.post(columns_url, data={"email_column": "1", "phone_column": "", "channel": "email"})
    assert response.status_code == 302  # the scrub is a job: the request only queues it
    progress_url = response.headers["Location"]
    assert progress_url.endswith(f"/scrub/{upload_id}/progress/")
    page = client.get(progress_url).get_data(as_text=True)
    assert "Waiting for a worker" in page and 'http-equiv="refresh"' in page
    assert app.extensions["embedded_worker"].drain() == 1
    page = client.get(progress_url).get_data(as_text=True)
    assert "Rows kept" in page and "No marketing consent" in page
    download = client.get(f"/admin/optouts/scrub/{upload_id}/download/", buffered=False)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == "attachment; filename=campaign-list-scrubbed.csv"
    # The server sends the body after the request (and its app context) ended: read it from another thread.
    body = []
    reader = threading.Thread(target=lambda: body.append(download.get_data()))
    reader.start()
    reader.join()
    expected = "Name;Email\r\nOk;ok@mail.kz\r\n".encode()
    assert body == [expected] and download.headers["Content-Length"] == str(len(expected))
    download.close()
    assert list(Path(app.instance_path, "scrub").glob(f"{upload_id}*")) == []  # nothing left on the server
    assert client.get(f"/admin/optouts/scrub/{upload_id}/download/").status_code == 302  # gone after one download


def test_hash_export_download(client, login_as):
    optouts.add_opt_out("anna@mail.kz", None, "email")
    db.session.commit()
    login_as("support")
    body = client.get("/admin/optouts/export-hashes/download/").get_data(as_text=True)
    lines = body.splitlines()
    assert lines[0] == "type,hmac_sha256,channel,added_on"
    assert lines[1].startswith("email," + optouts.address_hash("anna@mail.kz") + ",email,")
    assert "anna" not in body


def test_admin_issues_a_token_shown_once_and_can_revoke_it(client, login_as):
    login_as("admin")
    page = client.post("/admin/integrations/issue/", data={"name": "B2B site"}).get_data(as_text=True)
    token = re.search(r"<code>(bko_[^<]+)</code>", page).group(1)
    assert token not in client.get("/admin/integrations/").get_data(as_text=True)
    accepted = client.post("/api/v1/opt-outs", json={"email": "a@mail.kz", "channel": "all"},
                           headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 202
    from backoffice.models.integrations import IntegrationToken
    row = db.session.execute(select(IntegrationToken)).scalar_one()
    assert token not in (row.token_hash, row.token_prefix)
    client.post("/admin/integrations/revoke/", data={"id": str(row.id)})
    refused = client.post("/api/v1/opt-outs", json={"email": "a@mail.kz", "channel": "all"},
                          headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_client_page_shows_the_consent_timeline(client, login_as):
    anna = make_client(consents=("identification", "marketing"))
    optouts.withdraw_marketing_consent(anna, source="privacy_request")
    db.session.commit()
    login_as("support")
    page = client.get(f"/admin/clients/details/?id={anna.id}").get_data(as_text=True)
    section = page[page.index(">Consents<"):page.index(">Privacy requests<")]
    assert section.count(">Given<") == 2 and section.count(">Withdrawn<") == 1
    assert "Marketing: not given" in section and "3.2.2" in section
