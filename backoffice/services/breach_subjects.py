"""Telling the clients a breach concerned (policy 4.3; Law 94-V as amended by Law 44-VIII): one notice per affected
client, through the letter outbox, in the client's language.

A manager's "Notify affected clients" queues, in one transaction, a `breach_notification` letter for every
affected client who has neither a notice queued nor been told another way, and links it to the client's row
(`BreachAffectedClient.letter_id`), so no client is ever written to twice for one incident: the incident's version
is bumped first, so a second, concurrent click waits and then fails as stale. The outbox job sends the letters
(services/letters.py); sending one records the client as told (`notified_at`, channel `outbox`). Clients without
an e-mail address stay on the list, to be told another way and recorded by hand. The notice names no client and
never quotes the staff-only description; the audit event carries counts only. The letters are erased with the
client like every other letter (services/mail_records.py).
"""
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models.base import utcnow
from ..models.breaches import BreachAffectedClient
from ..models.mail import Letter
from . import audit, breaches, compliance_settings, deadlines, letter_templates, letters
from .breaches import BreachError
from .disclosures import DATA_CATEGORY_LABELS

TEMPLATE = "breach_notification"
LETTER_DATE = "dd.MM.yyyy"  # a letter's dates: day.month.year, as services/letters writes them


def _waiting(incident_id):
    """Ids of the incident's affected clients with no notice queued and not told another way."""
    return select(BreachAffectedClient.client_id).where(
        BreachAffectedClient.incident_id == incident_id, BreachAffectedClient.letter_id.is_(None),
        BreachAffectedClient.notified_at.is_(None))


def _count(query):
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar()


def contexts(incident):
    """What the notice says, per language: facts of the incident only (no client's data, no description)."""
    contact = compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON)
    values = {}
    for language in letter_templates.LANGUAGES:
        with force_locale(language):
            values[language] = {
                "number": str(incident.id),
                # Dates through Babel, in the letters' day.month.year (services/letters).
                "discovered": format_date(deadlines.local_datetime(incident.discovered_at).date(), LETTER_DATE),
                "categories": [str(DATA_CATEGORY_LABELS.get(c, c)) for c in incident.data_categories or []],
                "authority_notified": format_date(incident.notice_sent_on, LETTER_DATE)
                if incident.notice_sent_on else "",
                "contact": contact or "",
            }
    return values


def problems(incident):
    """What must be recorded before the notice can be written (translated); empty: ready."""
    found = []
    if not compliance_settings.get(compliance_settings.RESPONSIBLE_PERSON):
        found.append(_("Set the person responsible for organising processing (Processing register, settings) "
                       "first: the notice gives their contact."))
    if not incident.data_categories:
        found.append(_("Record the categories of personal data concerned first: the notice names them."))
    return found


def plan(incident_id):
    """What "Notify affected clients" would do now: letters per language, who cannot be written to, the texts.

    Reads only (ids and counts; the texts carry no client's data)."""
    incident = breaches.get(incident_id)
    if incident is None:
        return None
    waiting = _waiting(incident.id)
    writable = letters.writable_clients(waiting)
    per_language = {language: _count(writable.where(letters.language_condition(language)))
                    for language in letter_templates.LANGUAGES}
    found = problems(incident)
    previews = {} if found else {language: letter_templates.render(TEMPLATE, language, context)
                                 for language, context in contexts(incident).items()}
    return {"incident": incident, "counts": breaches.affected_counts(incident.id), "letters": per_language,
            "no_address": _count(waiting) - sum(per_language.values()), "problems": found, "previews": previews}


def notify_affected(incident_id, by, version=None):
    """Queue the breach notice for every affected client not yet written to or told; {language: n}. Commits.

    Idempotent: a client with a notice queued, or recorded as told another way, gets nothing; a second run
    queues only clients added since. Refused (nothing queued) without the responsible person's contact or the
    categories, or when no affected client can be written to.
    """
    incident = breaches.locked(incident_id, version)
    found = problems(incident)
    if found:
        raise BreachError({"notify": found[0]})
    incident.updated_at = utcnow()
    try:
        db.session.flush()  # the versioned UPDATE first: a concurrent run waits here, then fails as stale
    except StaleDataError:
        db.session.rollback()
        raise BreachError(_("Someone else changed this incident; reload the page.")) from None
    waiting = _waiting(incident.id)
    no_address = _count(waiting) - _count(letters.writable_clients(waiting))
    queued = letters.queue_to_clients(TEMPLATE, waiting, contexts(incident), by=by, breach_id=incident.id)
    if not queued:
        db.session.rollback()
        raise BreachError({"notify": _("No affected client is waiting for a notice with an e-mail address.")})
    letter_of_client = (select(func.max(Letter.id))
                        .where(Letter.breach_id == incident.id, Letter.client_id == BreachAffectedClient.client_id)
                        .scalar_subquery())
    db.session.execute(update(BreachAffectedClient)
                       .where(BreachAffectedClient.incident_id == incident.id,
                              BreachAffectedClient.letter_id.is_(None), BreachAffectedClient.notified_at.is_(None),
                              BreachAffectedClient.client_id.in_(
                                  select(Letter.client_id).where(Letter.breach_id == incident.id)))
                       .values(letter_id=letter_of_client).execution_options(synchronize_session=False))
    audit.record("breach.subjects_letters_queued", object_type="breach", object_id=incident.id, actor=by,
                 details={"letters": queued, "without_address": no_address})
    db.session.commit()
    return queued
