"""Versions of the privacy notice (policy 3.2, 4.2) and consents recorded outside the intake: by staff from a
paper form or a call, or sent by the booking site (idempotent by the site's event id)."""
import datetime as dt
from functools import partial

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..identifiers import normalise_email, try_normalise
from ..models.clients import ERASED, Client
from ..models.consent import CONSENT_CHANNELS, MARKETING, PURPOSES
from ..models.notices import ConsentIntakeEvent, NoticeVersion
from . import audit, consents, optouts

GIVEN, WITHDRAWN = "given", "withdrawn"


class NoticeError(ValueError):
    """Refused (translated); `code` is stable for the API. Nothing was saved."""

    def __init__(self, message, code="invalid"):
        super().__init__(message)
        self.code = code


def versions(limit=100):
    return db.session.execute(select(NoticeVersion).order_by(NoticeVersion.effective_on.desc(),
                                                             NoticeVersion.id.desc()).limit(limit)).scalars().all()


def in_force(on=None):
    """The version in force on a date (the latest effective on or before it), or None."""
    on = on or dt.date.today()
    return db.session.execute(select(NoticeVersion).where(NoticeVersion.effective_on <= on)
                              .order_by(NoticeVersion.effective_on.desc(), NoticeVersion.id.desc()).limit(1)
                              ).scalar_one_or_none()


def by_label(label):
    if not isinstance(label, str) or not label.strip() or len(label) > 40:
        return None
    return db.session.execute(select(NoticeVersion).where(NoticeVersion.version == label.strip())).scalar_one_or_none()


def _client_for(client_id=None, email=None):
    if client_id is not None:
        client = db.session.get(Client, client_id) if isinstance(client_id, int) else None
    else:
        norm = try_normalise(normalise_email, email) if email else None
        matches = db.session.execute(select(Client).where(Client.email_norm == norm).limit(2)).scalars().all() \
            if norm else []
        client = matches[0] if len(matches) == 1 else None
    if client is None or client.status == ERASED:
        raise NoticeError(_("No such client."), code="unknown_client")
    return client


def _apply(client, purpose, kind, channel, version, source, by):
    if purpose not in PURPOSES:
        raise NoticeError(_("Unknown consent purpose."), code="invalid_purpose")
    if kind not in (GIVEN, WITHDRAWN):
        raise NoticeError(_("Say whether the consent was given or withdrawn."), code="invalid_kind")
    if channel not in CONSENT_CHANNELS:
        raise NoticeError(_("Choose the channel from the list."), code="invalid_channel")
    # Marketing goes through the suppression list's functions, which keep consent and opt-outs in agreement.
    if kind == GIVEN:
        if version is None:
            raise NoticeError(_("Choose the notice version the consent was given under."), code="unknown_notice")
        give = optouts.give_marketing_consent if purpose == MARKETING else partial(consents.give_consent,
                                                                                    purpose=purpose)
        consent = give(client, source=source, by=by, notice_version_id=version.id, channel=channel)
        return consent.id
    withdraw = optouts.withdraw_marketing_consent if purpose == MARKETING else partial(consents.withdraw_consent,
                                                                                      purpose=purpose)
    closed = withdraw(client, source=source, by=by, channel=channel)
    return closed[0].id if closed else None


def record_by_staff(by, *, client_id, purpose, kind, channel, notice_version_id=None):
    """Staff record a consent given or withdrawn outside the intake (paper form, call); commits."""
    client = _client_for(client_id=client_id)
    version = db.session.get(NoticeVersion, notice_version_id) if isinstance(notice_version_id, int) else None
    try:
        consent_id = _apply(client, purpose, kind, channel, version, "staff_entry", by)
    except consents.ConsentError as error:
        db.session.rollback()
        raise NoticeError(str(error)) from None
    db.session.commit()
    return consent_id


def record_intake_event(token, *, event_id, purpose, kind, channel="booking_site", notice_version=None,
                        client_id=None, email=None):
    """A consent event from the booking site: applied once per event id; a resent event changes nothing.

    Returns (created?, consent id). Commits.
    """
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 64:
        raise NoticeError(_("event_id must be a string of at most 64 characters."), code="invalid_event_id")
    event_id = event_id.strip()
    seen = db.session.execute(select(ConsentIntakeEvent).where(ConsentIntakeEvent.event_id == event_id)
                              ).scalar_one_or_none()
    if seen is not None:
        return False, seen.consent_id
    client = _client_for(client_id=client_id, email=email)
    version = by_label(notice_version) if notice_version is not None else None
    if kind == GIVEN and version is None:
        raise NoticeError(_("Unknown notice version."), code="unknown_notice")
    try:
        consent_id = _apply(client, purpose, kind, channel, version, "api", None)
        db.session.add(ConsentIntakeEvent(event_id=event_id, integration_token_id=token.id, client_id=client.id,
                                          purpose=purpose, kind=kind, consent_id=consent_id))
        audit.record("consent.intake_event", object_type="client", object_id=client.id,
                     details={"integration_token_id": token.id, "purpose": purpose, "kind": kind,
                              "consent_id": consent_id})
        db.session.commit()
    except consents.ConsentError as error:
        db.session.rollback()
        raise NoticeError(str(error)) from None
    except IntegrityError:
        # The same event arrived twice at once: the other request recorded it.
        db.session.rollback()
        seen = db.session.execute(select(ConsentIntakeEvent).where(ConsentIntakeEvent.event_id == event_id)
                                  ).scalar_one()
        return False, seen.consent_id
    return True, consent_id
