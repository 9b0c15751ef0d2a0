"""The suppression list (policy 3.2.2): hashing, merging, consent consistency, erasure, export.

The CSV import, a job: tests/services/test_optout_import_runs.py.
"""
import hashlib
import hmac

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.clients import ERASED
from backoffice.models.consent import Consent
from backoffice.models.optouts import MarketingOptOut
from backoffice.services import consents, optouts
from tests.factories import make_client


def count(model):
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def marketing_open(client):
    return bool(consents.active_consents(client.id, "marketing"))


def test_add_normalises_and_stores_keyed_hashes(app):
    result = optouts.add_opt_out(" Anna.Petrova@Mail.KZ ", "8 701 555 12 34", "email", source="staff_entry")
    db.session.commit()
    entry = result.entry
    assert result.created
    assert entry.email == "anna.petrova@mail.kz" and entry.phone == "+77015551234"
    key = optouts.hash_key().encode()
    assert entry.email_hash == hmac.new(key, b"anna.petrova@mail.kz", hashlib.sha256).hexdigest()
    assert entry.phone_hash == hmac.new(key, b"+77015551234", hashlib.sha256).hexdigest()
    # The suppression-list key is not the main hash key (which also pseudonymises audit search terms).
    assert optouts.hash_key() != app.config["BACKOFFICE_HASH_KEY"]


def test_same_address_and_channel_merge_into_one_entry(app):
    first = optouts.add_opt_out("a@mail.kz", None, "email")
    second = optouts.add_opt_out("A@MAIL.KZ", None, "email")
    third = optouts.add_opt_out("a@mail.kz", "+7 701 555 12 34", "email")  # fills the phone of the same entry
    other_channel = optouts.add_opt_out("a@mail.kz", None, "sms")
    db.session.commit()
    assert not second.created and second.entry.id == first.entry.id
    assert third.entry.id == first.entry.id and third.entry.phone == "+77015551234"
    assert other_channel.created
    assert count(MarketingOptOut) == 2


def test_bad_input_is_refused_without_change(app):
    for email, phone, channel in ((None, None, "all"), ("not-an-email", None, "all"), (None, "123", "all"),
                                  ("a@mail.kz", None, "fax")):
        with pytest.raises(optouts.OptOutError):
            optouts.add_opt_out(email, phone, channel)
    assert count(MarketingOptOut) == 0


def test_opt_out_of_all_withdraws_marketing_consent_and_channel_opt_out_does_not(app):
    anna = make_client(email="anna@mail.kz", phone="+7 701 555 12 34")
    boris = make_client(email="boris@mail.kz", phone="+7 702 555 12 34")
    optouts.add_opt_out(None, "87015551234", "all", source="unsubscribe_link")
    optouts.add_opt_out("boris@mail.kz", None, "sms")
    db.session.commit()
    assert not marketing_open(anna)
    assert marketing_open(boris)
    closed = db.session.execute(select(Consent).where(Consent.client_id == anna.id,
                                                      Consent.purpose == "marketing")).scalar_one()
    assert closed.withdrawn_source == "unsubscribe_link"
    assert consents.active_consents(anna.id, "identification")  # other purposes untouched


def test_withdrawing_marketing_consent_adds_an_opt_out_and_giving_it_lifts_it(app):
    anna = make_client(email="anna@mail.kz", phone="+7 701 555 12 34")
    optouts.withdraw_marketing_consent(anna, source="privacy_request")
    db.session.commit()
    assert optouts.is_opted_out("anna@mail.kz", channel="email")
    assert optouts.is_opted_out(phone="+77015551234", channel="sms")
    entry = db.session.execute(select(MarketingOptOut)).scalar_one()
    assert entry.source == "privacy_request" and entry.channel == "all" and entry.client_id == anna.id

    optouts.add_opt_out("anna@mail.kz", None, "sms")  # a channel-specific "no" survives new consent
    optouts.give_marketing_consent(anna, source="form")
    db.session.commit()
    assert marketing_open(anna)
    assert not optouts.is_opted_out("anna@mail.kz", channel="email")
    assert optouts.is_opted_out("anna@mail.kz", channel="sms")
    assert db.session.get(MarketingOptOut, entry.id).removal_reason == "marketing consent given again"


def test_consent_history_keeps_every_grant(app):
    anna = make_client(consents=("marketing",))
    optouts.withdraw_marketing_consent(anna, source="staff_entry")
    optouts.give_marketing_consent(anna, source="form")
    optouts.give_marketing_consent(anna, source="form")  # idempotent while open
    db.session.commit()
    events = consents.timeline(anna)
    assert [(e["purpose"], e["event"]) for e in events] == [
        ("marketing", "given"), ("marketing", "withdrawn"), ("marketing", "given")]
    assert events[0]["clause"] == "3.2.2"
    assert count(Consent) == 2


def test_removal_needs_a_reason_is_soft_and_audited(app, make_staff):
    support = make_staff("support")
    entry = optouts.add_opt_out("a@mail.kz", None, "all", by=support).entry
    db.session.commit()
    with pytest.raises(optouts.OptOutError):
        optouts.remove_opt_out(entry.id, "  ", by=support)
    optouts.remove_opt_out(entry.id, "added to the wrong address", by=support)
    db.session.commit()
    assert count(MarketingOptOut) == 1
    assert entry.removed_at is not None and entry.removed_by_id == support.id
    assert not optouts.is_opted_out("a@mail.kz", channel="email")
    with pytest.raises(optouts.OptOutError):
        optouts.remove_opt_out(entry.id, "again", by=support)
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.details).order_by(AuditEvent.id)).all()
    assert [a for a, _ in actions] == ["optout.add", "optout.remove"]
    assert all("a@mail.kz" not in (details or "") for _, details in actions)


def test_opt_out_survives_erasure(app):
    anna = make_client(email="Anna@Mail.kz", phone="+7 701 555 12 34")
    entry = optouts.add_opt_out("anna@mail.kz", "+77015551234", "all", source="privacy_request").entry
    db.session.commit()
    # Erasure as the erasure service does it: plaintext gone everywhere, hashes kept.
    entry.email = entry.phone = None
    for name in ("full_name", "name_key", "email", "email_norm", "phone", "phone_e164", "iin", "date_of_birth"):
        setattr(anna, name, None)
    anna.status = ERASED
    db.session.commit()
    assert optouts.is_opted_out("ANNA@mail.kz", channel="email")
    assert optouts.is_opted_out(phone="8 (701) 555-12-34", channel="sms")
    assert not optouts.is_opted_out("someone.else@mail.kz", channel="email")
    # Added again after erasure: still one entry (matched by hash).
    assert not optouts.add_opt_out("anna@mail.kz", None, "all").created


def test_hash_export_lists_active_entries_as_hashes_only(app):
    optouts.add_opt_out("anna@mail.kz", "+77015551234", "all")
    removed = optouts.add_opt_out("boris@mail.kz", None, "email").entry
    db.session.flush()
    optouts.remove_opt_out(removed.id, "mistake", by=None)
    db.session.commit()
    rows = list(optouts.export_hash_rows(batch_size=1))
    assert rows[0] == optouts.EXPORT_HEADER
    key = optouts.hash_key().encode()
    provider_side = hmac.new(key, "anna@mail.kz".encode(), hashlib.sha256).hexdigest()
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("email", provider_side, "all"), ("phone", optouts.address_hash("+77015551234"), "all")]
    assert "anna" not in repr(rows)


def test_bulk_hasher_equals_address_hash_for_any_key(app):
    for key in (None, "short", "k" * 64, "a much longer key than one SHA-256 block of sixty-four bytes, " * 3):
        app.config["OPTOUT_HASH_KEY"] = key
        hash_one = optouts.hasher()
        for value in ("anna@mail.kz", "+77015551234", "жанар@почта.kz"):
            assert hash_one(value) == optouts.address_hash(value)
