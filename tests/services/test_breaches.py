"""The breach register (issue 15): deadline on the Kazakhstan calendar, life cycle, affected clients as ids,
the notice draft without client names, audit."""
import datetime as dt

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEvent, BreachAffectedClient, DeadlineRule, MarketingOptOut
from backoffice.models.systems import MANUAL, WEBHOOK, DataSystem
from backoffice.services import breach_notice, breaches, datamap, deadlines
from tests.factories import make_client


def _report(staff, discovered_at, **fields):
    values = dict(discovered_at=discovered_at, discovered_by="IT on duty", description="Leaked list of Айгүл",
                  data_categories=["contact", "booking"], systems=["other"], estimated_count=40)
    values.update(fields)
    return breaches.report(staff, **values)


def test_friday_before_a_public_holiday_is_due_next_working_day_at_18_almaty(app, make_staff):
    support = make_staff("support")
    # Friday 20 March 2026, 15:00 Almaty; Nauryz 21–23 March with observed days 24–25: next working day Thu 26th.
    incident = _report(support, dt.datetime(2026, 3, 20, 10, 0))
    assert incident.notice_due_at == dt.datetime(2026, 3, 26, 13, 0)  # 18:00 Almaty (UTC+5)
    assert deadlines.local_datetime(incident.notice_due_at).strftime("%a %H:%M") == "Thu 18:00"
    # Friday 3 July 2026 before Capital Day (Mon 6 July): Tuesday 7 July 18:00.
    assert _report(support, dt.datetime(2026, 7, 3, 5, 0)).notice_due_at == dt.datetime(2026, 7, 7, 13, 0)


def test_the_rule_is_editable(app, make_staff):
    deadlines.ensure_default_rules()
    rule = DeadlineRule.query.filter_by(request_type="breach_notice").one()
    rule.working_days = 2
    db.session.commit()
    incident = _report(make_staff("manager"), dt.datetime(2026, 3, 20, 10, 0))
    assert incident.notice_due_at == dt.datetime(2026, 3, 27, 13, 0)


def test_bad_input_saves_nothing(app, make_staff):
    with pytest.raises(breaches.BreachError) as error:
        breaches.report(make_staff("support"), discovered_at=dt.datetime(2999, 1, 1), discovered_by="",
                        description="", data_categories=["secrets"], systems=["mars"], estimated_count=-1)
    assert set(error.value.errors) == {"discovered_at", "discovered_by", "description", "data_categories",
                                       "systems", "estimated_count"}
    assert breaches.incidents() == []


def test_life_cycle_home_list_and_audit(app, make_staff):
    manager = make_staff("manager")
    incident = _report(manager, dt.datetime(2026, 3, 20, 10, 0))
    assert breaches.notices_due() == [incident]
    with pytest.raises(breaches.BreachError):
        breaches.close(incident.id, manager)
    breaches.add_step(incident.id, manager, "Revoked the leaked API key")
    breaches.record_notice_sent(incident.id, manager, dt.date(2026, 3, 26), "AB-17", "DPO, +7 727 000 00 00")
    assert incident.status == "notified" and breaches.notices_due() == []
    with pytest.raises(breaches.BreachError):
        breaches.record_notice_sent(incident.id, manager, dt.date(2026, 3, 26), "AB-18", "x")
    breaches.close(incident.id, manager)
    assert incident.status == "closed"
    actions = [e.action for e in db.session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "breach").order_by(AuditEvent.id)).scalars()]
    assert actions == ["breach.report", "breach.containment_step", "breach.notice_sent", "breach.close"]
    details = " ".join(e.details or "" for e in AuditEvent.query.all())
    assert "Айгүл" not in details and "API key" not in details and "AB-17" not in details


def test_stale_version_is_refused(app, make_staff):
    manager = make_staff("manager")
    incident = _report(manager, dt.datetime(2026, 3, 20, 10, 0))
    with pytest.raises(breaches.BreachError):
        breaches.add_step(incident.id, manager, "x", version=incident.version + 5)


def test_affected_clients_by_route_opt_out_and_ids_stored_as_ids_once(app, make_staff):
    manager = make_staff("manager")
    flown = make_client(flight_date=dt.date(2026, 3, 1))
    other = make_client(flight_date=dt.date(2025, 1, 1))
    opted = make_client(bookings=0)
    db.session.add(MarketingOptOut(email="o@mail.kz", client_id=opted.id))
    db.session.commit()
    incident = _report(manager, dt.datetime(2026, 3, 20, 10, 0))
    added = breaches.add_affected(incident.id, manager, selection="route_date", origin="ala", destination="NQZ",
                                  date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 3, 31))
    assert added == 1
    assert breaches.add_affected(incident.id, manager, selection="opt_out_list") == 1
    assert breaches.add_affected(incident.id, manager, selection="id_list",
                                 ids_text=f"client_id\n{flown.id}\n{other.id};99999") == 1
    # By system: the back-office database holds everyone (all three are listed already); nothing new is added.
    backoffice = datamap.ensure_backoffice_system()
    assert breaches.add_affected(incident.id, manager, selection="system", system=str(backoffice.id)) == 0
    for bad in ("mars", "999", None):
        with pytest.raises(breaches.BreachError):
            breaches.add_affected(incident.id, manager, selection="system", system=bad)
    rows = BreachAffectedClient.query.order_by(BreachAffectedClient.client_id).all()
    assert [(r.client_id, r.selection) for r in rows] == [
        (flown.id, "route_date"), (other.id, "id_list"), (opted.id, "opt_out_list")]
    with pytest.raises(breaches.BreachError):
        breaches.add_affected(incident.id, manager, selection="id_list", ids_text="1, drop table")
    with pytest.raises(breaches.BreachError):
        breaches.add_affected(incident.id, manager, selection="route_date", origin="ALMATY",
                              date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 1, 1))
    # Subject notifications: who must be told, then recorded as told.
    assert [row.client_id for row in breaches.affected(incident.id, only_pending=True)] == sorted(
        [flown.id, other.id, opted.id])
    assert breaches.record_subjects_notified(incident.id, manager, [flown.id], "letter") == 1
    assert breaches.affected_counts(incident.id) == {"total": 3, "notified": 1, "pending": 2, "queued": 0}
    assert breaches.record_subjects_notified(incident.id, manager, "all", "email") == 2
    assert breaches.affected_counts(incident.id)["pending"] == 0


def test_notice_draft_in_russian_and_kazakh_names_no_client(app, make_staff):
    manager = make_staff("manager")
    client = make_client(full_name="Сейтқали Жанар")
    incident = _report(manager, dt.datetime(2026, 3, 20, 10, 0))
    breaches.add_affected(incident.id, manager, selection="id_list", ids_text=str(client.id))
    breaches.add_step(incident.id, manager, "Закрыт доступ")
    ru = breach_notice.draft(incident, "ru")
    kk = breach_notice.draft(incident, "kk")
    assert "Уведомление" in ru and "20.03.2026 15:00" in ru and "Закрыт доступ" in ru
    assert "хабарлама" in kk.lower()
    for text in (ru, kk):
        assert "Сейтқали" not in text and "Айгүл" not in text and client.email not in text


def _system(**fields):
    values = dict(name="Loyalty CRM", owner="Sales", kind=MANUAL, request_types=["erasure"], country="KZ")
    values.update(fields)
    system = datamap.validate(DataSystem(**values))
    db.session.add(system)
    db.session.commit()
    return system


def test_affected_by_system_follows_the_data_map(app, make_staff):
    """"By system" reads the data map: the categories a system holds and the identities it finds clients by."""
    manager = make_staff("manager")
    with_account = make_client(bookings=0)
    without = make_client(bookings=0, phone=None)
    for account in without.accounts:
        db.session.delete(account)
    flyer = make_client(bookings=1)
    flyer.email = flyer.email_norm = None
    for account in flyer.accounts:
        db.session.delete(account)
    db.session.commit()
    incident = _report(manager, dt.datetime(2026, 3, 20, 10, 0))

    def listed(system):
        BreachAffectedClient.query.delete()
        db.session.commit()
        breaches.add_affected(incident.id, manager, selection="system", system=str(system.id))
        return {r.client_id for r in BreachAffectedClient.query.all()}

    # Holding site accounts only: the clients with an account.
    assert listed(_system(name="Site", held_categories=["account"])) == {with_account.id}
    # Holding bookings only: the clients with a booking.
    assert listed(_system(name="Reservations", held_categories=["booking"])) == {flyer.id}
    # Contact data, found by e-mail only (a webhook): clients with an e-mail address.
    mailer = _system(name="Mailer", kind=WEBHOOK, webhook_url="https://mailer.example/hook", secret_env="MAILER_KEY",
                     held_categories=["contact"], dataset={"identifiers": ["email"]})
    assert listed(mailer) == {with_account.id, without.id}
    # Identity data found by anything: everyone.
    assert listed(_system(name="Archive", held_categories=["identity"])) == {with_account.id, without.id, flyer.id}
    # A system with no categories recorded cannot say whom it holds: refused, nothing added.
    empty = _system(name="Unknown box")
    with pytest.raises(breaches.BreachError) as error:
        breaches.add_affected(incident.id, manager, selection="system", system=str(empty.id))
    assert "system" in error.value.errors
    # Editing the data map changes the answer.
    empty.held_categories = ["account"]
    db.session.commit()
    assert listed(empty) == {with_account.id}


def test_an_incident_names_the_systems_of_the_data_map(app, make_staff):
    manager = make_staff("manager")
    backoffice = datamap.ensure_backoffice_system()
    mailer = _system(name="Mailer", country="DE", held_categories=["contact"])
    db.session.commit()
    incident = _report(manager, dt.datetime(2026, 3, 20, 10, 0), systems=[str(mailer.id), "other", str(backoffice.id)])
    assert incident.systems == [backoffice.id, mailer.id, "other"]
    assert breaches.system_names(incident.systems) == ["Back-office database", "Mailer",
                                                       "Another system, not on the data map"]
    assert "Mailer" in breach_notice.draft(incident, "ru")
    with pytest.raises(breaches.BreachError) as error:
        _report(manager, dt.datetime(2026, 3, 20, 10, 0), systems=["mars", "99999"])
    assert set(error.value.errors) == {"systems"}
    # An incident from before the data map keeps its old code when saved again, and shows it by its label.
    old = _report(manager, dt.datetime(2026, 3, 20, 10, 0))
    old.systems = ["booking_site"]  # recorded before the data map existed (a new report may not name it)
    db.session.commit()
    assert breaches.system_names(old.systems) == ["B2B booking site"]
    assert ("booking_site", "B2B booking site") in breaches.system_choices(old)
    assert ("booking_site", "B2B booking site") not in breaches.system_choices(incident)


def test_a_system_code_from_before_the_data_map_is_kept_on_edit_but_refused_on_a_new_report(app, make_staff):
    from backoffice.models.breaches import LEGACY_SYSTEMS

    staff, code = make_staff("support"), sorted(LEGACY_SYSTEMS)[0]
    with pytest.raises(breaches.BreachError) as refused:
        _report(staff, dt.datetime(2026, 11, 2, 9), systems=[code])
    assert "systems" in refused.value.errors
    incident = _report(staff, dt.datetime(2026, 11, 2, 9))
    incident.systems = [code]  # recorded before the data map existed
    db.session.commit()
    edited = breaches.edit(incident.id, staff, version=incident.version, discovered_at=incident.discovered_at,
                           discovered_by="IT", description="x", data_categories=["contact"], systems=[code, "other"])
    assert edited.systems == ["other", code]
