"""Staff record a consent outside the intake with the notice version and channel (issue 15)."""
import datetime as dt

from backoffice.extensions import db
from backoffice.models import AuditEvent, Consent, NoticeVersion
from tests.factories import make_client


def test_support_records_consent_with_version_and_the_timeline_shows_it(client, login_as):
    person = make_client(consents=())
    version = NoticeVersion(version="v3", effective_on=dt.date(2026, 1, 1), text_kk="k", text_ru="r", text_en="e")
    db.session.add(version)
    db.session.commit()
    login_as("support")
    form = client.get(f"/admin/consent_record/{person.id}/").get_data(as_text=True)
    assert "v3" in form
    response = client.post(f"/admin/consent_record/{person.id}/", data={
        "purpose": "statistics", "kind": "given", "channel": "paper_form", "notice_version_id": str(version.id)})
    assert response.status_code == 302
    consent = Consent.query.one()
    assert (consent.notice_version_id, consent.channel, consent.source) == (version.id, "paper_form", "staff_entry")
    assert AuditEvent.query.filter_by(action="consent.give").count() == 1
    page = client.get(f"/admin/clients/details/?id={person.id}").get_data(as_text=True)
    assert "v3" in page and "Paper form" in page
    client.post(f"/admin/consent_record/{person.id}/", data={"purpose": "statistics", "kind": "withdrawn",
                                                             "channel": "phone"})
    db.session.expire_all()
    assert Consent.query.one().withdrawn_channel == "phone"


def test_given_without_a_version_is_refused(client, login_as):
    person = make_client(consents=())
    login_as("manager")
    response = client.post(f"/admin/consent_record/{person.id}/", data={
        "purpose": "marketing", "kind": "given", "channel": "phone"})
    assert response.status_code == 200
    assert "Choose the notice version" in response.get_data(as_text=True)
    assert Consent.query.count() == 0


def test_admin_publishes_a_notice_version(client, login_as):
    login_as("admin")
    response = client.post("/admin/notices/new/", data={
        "version": "2027-01", "effective_on": "2027-01-01", "text_kk": "Хабарлама", "text_ru": "Уведомление",
        "text_en": "Notice"})
    assert response.status_code == 302
    assert NoticeVersion.query.one().version == "2027-01"
    assert AuditEvent.query.filter_by(action="notice_version.create").count() == 1
