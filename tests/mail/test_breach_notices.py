"""Breach notices to affected clients (policy 4.3): one letter per client through the outbox, in the client's
language, never twice, recorded as told when sent, audited with counts only, erased with the client."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEvent, BreachAffectedClient
from backoffice.models.mail import ERASED_LETTER, PENDING, SENT, Letter
from backoffice.services import breach_subjects, breaches, compliance_settings, erasure, letters
from tests.factories import make_client
from tests.jobfactories import approved_request, seeded_client, text_hits

CONTACT = "Aida Nurlanovna, dpo@bekair.kz, +7 727 000 00 00"


@pytest.fixture
def manager(app, make_staff):
    admin = make_staff("admin")
    compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: CONTACT}, admin)
    return make_staff("manager")


def _incident(manager, *clients, **fields):
    values = dict(discovered_at=dt.datetime(2026, 3, 20, 10, 0), discovered_by="IT on duty",
                  description="Лист с данными Жанар на столе", data_categories=["contact", "booking"],
                  systems=["other"], estimated_count=len(clients))
    values.update(fields)
    incident = breaches.report(manager, **values)
    if clients:
        breaches.add_affected(incident.id, manager, selection="id_list",
                              ids_text="\n".join(str(c.id) for c in clients))
    return incident


def _letters():
    return db.session.execute(select(Letter).order_by(Letter.client_id)).scalars().all()


def test_one_notice_per_client_in_their_language_then_recorded_as_told_when_sent(app, smtp, manager):
    kk = make_client(full_name="Сейтқали Жанар", email="kk@mail.kz", preferred_language="kk")
    ru = make_client(full_name="Иванова Анна", email="ru@mail.kz", preferred_language="ru")
    en = make_client(full_name="John Smith", email="en@mail.kz", preferred_language="en")
    unset = make_client(full_name="Без Языка", email="none@mail.kz", preferred_language=None)
    no_mail = make_client(full_name="Без Почты")
    no_mail.email = no_mail.email_norm = None
    db.session.commit()
    incident = _incident(manager, kk, ru, en, unset, no_mail)

    plan = breach_subjects.plan(incident.id)
    assert plan["letters"] == {"kk": 1, "ru": 2, "en": 1} and plan["no_address"] == 1 and not plan["problems"]
    assert breach_subjects.notify_affected(incident.id, manager, version=incident.version) == {"kk": 1, "ru": 2,
                                                                                               "en": 1}
    rows = _letters()
    assert [(r.client_id, r.language, r.status, r.breach_id, r.request_id) for r in rows] == [
        (kk.id, "kk", PENDING, incident.id, None), (ru.id, "ru", PENDING, incident.id, None),
        (en.id, "en", PENDING, incident.id, None), (unset.id, "ru", PENDING, incident.id, None)]
    assert len({r.message_id for r in rows}) == 4
    affected = {r.client_id: r for r in BreachAffectedClient.query.all()}
    assert {cid: (row.letter_id is not None, row.notified_at) for cid, row in affected.items()} == {
        kk.id: (True, None), ru.id: (True, None), en.id: (True, None), unset.id: (True, None),
        no_mail.id: (False, None)}
    assert breaches.affected_counts(incident.id) == {"total": 5, "notified": 0, "pending": 5, "queued": 4}

    assert letters.send_due() == {"sent": 4, "waiting": 0}
    by_address = {m["To"]: m for m in smtp.messages}
    assert set(by_address) == {"kk@mail.kz", "ru@mail.kz", "en@mail.kz", "none@mail.kz"}
    kk_text, ru_text, en_text = (by_address[a].get_content() for a in ("kk@mail.kz", "ru@mail.kz", "en@mail.kz"))
    assert by_address["kk@mail.kz"]["Content-Language"] == "kk"
    assert f"№{incident.id}" in by_address["kk@mail.kz"]["Subject"]
    assert "дербес деректердің қауіпсіздігін бұзу" in kk_text and "20.03.2026" in kk_text
    assert "уәкілетті орган" in kk_text and "Байланыс деректері (электрондық пошта, телефон)" in kk_text
    assert "нарушении безопасности персональных данных" in ru_text and "уполномоченный орган" in ru_text
    assert "Бронирования и билеты" in ru_text
    assert "personal data security breach" in en_text and "Bookings and tickets" in en_text
    for message in smtp.messages:
        text = message.get_content()
        assert CONTACT in text
        assert "Жанар" not in text and "Анна" not in text and "Smith" not in text  # no name, no description
    db.session.expire_all()
    told = {r.client_id: r for r in BreachAffectedClient.query.all()}
    assert all(told[c.id].notified_at is not None and told[c.id].notified_channel == "outbox"
               for c in (kk, ru, en, unset))
    assert told[no_mail.id].notified_at is None
    assert breaches.affected_counts(incident.id) == {"total": 5, "notified": 4, "pending": 1, "queued": 0}


def test_never_twice_to_one_client_and_later_additions_get_theirs(app, smtp, manager):
    first, told_by_phone = make_client(), make_client()
    incident = _incident(manager, first, told_by_phone)
    breaches.record_subjects_notified(incident.id, manager, [told_by_phone.id], "phone")
    assert breach_subjects.notify_affected(incident.id, manager) == {"ru": 1}
    letters.send_due()
    with pytest.raises(breaches.BreachError):
        breach_subjects.notify_affected(incident.id, manager)  # nobody left to write to: nothing queued
    later = make_client(preferred_language="kk")
    breaches.add_affected(incident.id, manager, selection="id_list", ids_text=str(later.id))
    assert breach_subjects.notify_affected(incident.id, manager) == {"kk": 1}
    letters.send_due()
    assert sorted(m["To"] for m in smtp.messages) == sorted([first.email, later.email])
    assert [r.client_id for r in _letters()] == [first.id, later.id]
    # A stale page changes nothing.
    with pytest.raises(breaches.BreachError):
        breach_subjects.notify_affected(incident.id, manager, version=1)


def test_refused_without_the_contact_or_the_categories(app, manager, make_staff):
    client = make_client()
    incident = _incident(manager, client, data_categories=[])
    with pytest.raises(breaches.BreachError) as error:
        breach_subjects.notify_affected(incident.id, manager)
    assert "categories" in str(error.value)
    compliance_settings.save({compliance_settings.RESPONSIBLE_PERSON: ""}, make_staff("admin"))
    incident = _incident(manager, client)
    assert breach_subjects.plan(incident.id)["problems"]
    with pytest.raises(breaches.BreachError):
        breach_subjects.notify_affected(incident.id, manager)
    assert _letters() == []
    assert BreachAffectedClient.query.filter(BreachAffectedClient.letter_id.is_not(None)).count() == 0


def test_audited_with_counts_only(app, smtp, manager):
    client = make_client(full_name="Сейтқали Жанар", email="zhanar@mail.kz")
    incident = _incident(manager, client)
    breach_subjects.notify_affected(incident.id, manager)
    letters.send_due()
    queued = AuditEvent.query.filter_by(action="breach.subjects_letters_queued").one()
    assert str(queued.object_id) == str(incident.id)
    assert json.loads(queued.details) == {"letters": {"ru": 1}, "without_address": 0}
    sent = AuditEvent.query.filter_by(action="letter.send").one()
    assert json.loads(sent.details)["breach_id"] == incident.id
    every = " ".join(e.details or "" for e in AuditEvent.query.all())
    assert "zhanar" not in every and "Жанар" not in every and str(client.id) not in json.loads(queued.details)


@pytest.mark.parametrize("sent_first", [True, False])
def test_breach_letters_are_erased_with_the_client(app, smtp, manager, sent_first):
    client, _strings = seeded_client("breach", 21)
    email = client.email
    incident = _incident(manager, client)
    breach_subjects.notify_affected(incident.id, manager)
    if sent_first:
        letters.send_due()
    erasure.erase_client(approved_request(client, "erasure", by=manager).id)
    letter = db.session.execute(select(Letter).where(Letter.breach_id == incident.id)).scalar_one()
    assert letter.to_address is None and letter.subject is None and letter.body is None
    assert letter.erased_at is not None and letter.status == (SENT if sent_first else ERASED_LETTER)
    assert text_hits(email) == []
    letters.send_due()  # the erasure's completion letter goes; an unsent breach notice never does
    notices = [m for m in smtp.messages if "инцидент" in m["Subject"]]
    assert len(notices) == (1 if sent_first else 0)
    assert db.session.get(Letter, letter.id).status == (SENT if sent_first else ERASED_LETTER)
    # The register keeps the id (no personal data) and whether the client was told.
    row = BreachAffectedClient.query.one()
    assert row.client_id == client.id and (row.notified_at is not None) == sent_first


def test_managers_clicking_at_once_write_to_each_client_once(app, manager):
    """Threads with their own sessions: the incident's versioned UPDATE serialises them (PostgreSQL's row lock, or
    SQLite's write lock); exactly one queues the notices, the others write nothing."""
    import threading

    from backoffice.models.staff import StaffUser

    clients = [make_client() for _ in range(20)]
    incident = _incident(manager, *clients)
    incident_id, manager_id, runners = incident.id, manager.id, 4
    barrier = threading.Barrier(runners)
    outcomes = []

    def click():
        with app.app_context():
            by = db.session.get(StaffUser, manager_id)
            barrier.wait()
            try:
                outcomes.append(sum(breach_subjects.notify_affected(incident_id, by).values()))
            except breaches.BreachError:
                outcomes.append(0)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [0] * (runners - 1) + [len(clients)]
    db.session.expire_all()
    rows = _letters()
    assert sorted(r.client_id for r in rows) == sorted(c.id for c in clients)
    linked = {r.client_id: r.letter_id for r in BreachAffectedClient.query.all()}
    assert linked == {r.client_id: r.id for r in rows}
