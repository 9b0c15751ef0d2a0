"""The marketing suppression list (policy 3.2.2): add, remove and match opt-outs (CSV import: optout_import.py).

Matching is by keyed hash only (HMAC-SHA-256 of the normalised address), never by the plaintext columns:
erasure (policy 5.2, 5.3) nulls the plaintext and keeps the hashes, so a person who said no is never mailed
again, even after the airline has forgotten who they were.
"""
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..extensions import db
from ..identifiers import InvalidIdentifier, normalise_email, normalise_phone
from ..models.base import utcnow
from ..models.clients import ERASED, Client
from ..models.consent import MARKETING
from ..models.optouts import CHANNELS, SOURCES, MarketingOptOut
from . import audit, consents, csvstream
from .transaction import user_action
from .pseudonyms import keyed_hash

ALL = "all"
EMAIL = "email"
PHONE = "phone"
MAX_REASON = 1000
# The derivation label of the suppression-list key when BACKOFFICE_OPTOUT_HASH_KEY is not set.
_KEY_LABEL = b"bekair-backoffice marketing-opt-out v1"


class OptOutError(ValueError):
    """Input the suppression list refuses; the message is translated and safe to show."""


# --- hashing ---------------------------------------------------------------------------------------------------

def hash_key():
    """The key of the suppression-list hashes (docs/optouts.md explains how it is shared with providers).

    Separate from BACKOFFICE_HASH_KEY, which also pseudonymises audit search terms: giving a mailing provider
    this key lets them match addresses against the suppression list and nothing else.
    """
    configured = current_app.config.get("OPTOUT_HASH_KEY")
    if configured:
        return configured
    main = current_app.config["BACKOFFICE_HASH_KEY"].encode("utf-8")
    return hmac.new(main, _KEY_LABEL, hashlib.sha256).hexdigest()


def address_hash(normalised):
    """HMAC-SHA-256 hex of an already-normalised e-mail or E.164 phone, with the suppression-list key."""
    return keyed_hash(normalised, key=hash_key())


def hasher():
    """A fast hashing function for bulk work (the scrub): same result as address_hash.

    HMAC-SHA-256 written out (RFC 2104) with the padded key's two SHA-256 states prepared once: about twice as fast
    per value as copying an hmac object, which matters a million times per campaign list.
    """
    key = hash_key().encode("utf-8")
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy

    def hash_one(normalised):
        inner = inner_copy()
        inner.update(normalised.encode("utf-8"))
        outer = outer_copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    return hash_one


def normalise_address(email=None, phone=None):
    """(email, phone) normalised; blanks become None; raise OptOutError naming the bad field."""
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None
    if email is None and phone is None:
        raise OptOutError(_("Give an e-mail address or a phone number."))
    try:
        email = normalise_email(email) if email else None
    except InvalidIdentifier as error:
        raise OptOutError(_("E-mail: %(error)s", error=str(error))) from None
    try:
        phone = normalise_phone(phone) if phone else None
    except InvalidIdentifier as error:
        raise OptOutError(_("Phone: %(error)s", error=str(error))) from None
    return email, phone


def check_channel(channel):
    channel = (channel or "").strip().lower()
    if channel not in CHANNELS:
        raise OptOutError(_("Channel must be one of: %(channels)s.", channels=", ".join(CHANNELS)))
    return channel


def channels_covering(channel):
    """Opt-out channels that forbid marketing on `channel`: the channel itself and 'all'."""
    return (channel,) if channel == ALL else (channel, ALL)


# --- adding and removing ---------------------------------------------------------------------------------------

@dataclass
class OptOutResult:
    entry: MarketingOptOut
    created: bool


def _active_entry(column, value_hash, channel):
    return db.session.execute(
        select(MarketingOptOut)
        .where(column == value_hash, MarketingOptOut.channel == channel, MarketingOptOut.removed_at.is_(None))
        .order_by(MarketingOptOut.id).limit(1)
    ).scalar_one_or_none()


def matching_clients(email_norm=None, phone_e164=None):
    """Clients (not erased) whose normalised e-mail or phone is this one: indexed equality lookups."""
    conditions = []
    if email_norm:
        conditions.append(Client.email_norm == email_norm)
    if phone_e164:
        conditions.append(Client.phone_e164 == phone_e164)
    if not conditions:
        return []
    return db.session.execute(
        select(Client).where(or_(*conditions), Client.status != ERASED).order_by(Client.id)
    ).scalars().all()


def place_entry(email, email_hash, phone, phone_hash, channel, by_email, by_phone, **fields):
    """Merge into the active entries of this channel that already hold the e-mail / phone, or add one.

    Returns (entry, created). One rule for single adds and imports: same hash + channel → one entry.
    """
    if (email is None or by_email) and (phone is None or by_phone):
        return by_email or by_phone, False
    if by_email and by_email.phone_hash is None:
        by_email.phone, by_email.phone_hash = phone, phone_hash
        return by_email, False
    if by_phone and by_phone.email_hash is None:
        by_phone.email, by_phone.email_hash = email, email_hash
        return by_phone, False
    # A new entry holds only the addresses no active entry of this channel covers yet.
    entry = MarketingOptOut(
        email=None if by_email else email, email_hash=None if by_email else email_hash,
        phone=None if by_phone else phone, phone_hash=None if by_phone else phone_hash,
        channel=channel, created_at=utcnow(), **fields,
    )
    db.session.add(entry)
    return entry, True


def add_opt_out(email=None, phone=None, channel=ALL, source="staff_entry", reason=None, by=None, request_id=None,
                *, record_audit=True, withdraw_consent=True):
    """Put an address on the suppression list at once, without approval (policy 3.2.2; law notes: immediately).

    Normalises the address, stores only what matching needs (the keyed hashes) besides the plaintext staff see,
    merges with an active entry of the same hash and channel instead of adding a duplicate, and — for channel
    'all' — withdraws the matching client's marketing consent so that consent and opt-out agree.
    The caller commits. Returns OptOutResult(entry, created).
    """
    email, phone = normalise_address(email, phone)
    channel = check_channel(channel)
    if source not in SOURCES:
        raise OptOutError(_("Unknown opt-out source."))
    reason = (reason or "").strip()[:MAX_REASON] or None
    email_hash = address_hash(email) if email else None
    phone_hash = address_hash(phone) if phone else None

    by_email = _active_entry(MarketingOptOut.email_hash, email_hash, channel) if email else None
    by_phone = _active_entry(MarketingOptOut.phone_hash, phone_hash, channel) if phone else None
    entry, created = place_entry(email, email_hash, phone, phone_hash, channel, by_email, by_phone,
                            source=source, reason=reason, request_id=request_id, created_by_id=getattr(by, "id", None))

    clients = matching_clients(email, phone)
    if entry.client_id is None and len(clients) == 1:
        entry.client_id = clients[0].id
    db.session.flush()

    if channel == ALL and withdraw_consent:
        consent_follows_opt_out(clients, source, by=by, request_id=request_id)
    if record_audit:
        audit.record("optout.add", object_type="marketing_opt_out", object_id=entry.id, request_id=request_id,
                     actor=by,
                     details={"channel": channel, "source": source, "created": created,
                              "fields": [name for name, value in (("email", email), ("phone", phone)) if value]})
    return OptOutResult(entry, created)


@user_action
@user_action
def add_by_staff(email, phone, channel, reason, by):
    """Staff put an address on the list (one action, committed here); see add_opt_out."""
    return add_opt_out(email, phone, channel, source="staff_entry", reason=reason, by=by)


@user_action
def add_from_integration(email, phone, channel, token_id):
    """The booking site's unsubscribe link (API): listed at once and committed; audited with the token's id."""
    result = add_opt_out(email, phone, channel, source="unsubscribe_link", reason=f"integration token #{token_id}",
                         record_audit=False)
    audit.record("optout.add", object_type="marketing_opt_out", object_id=result.entry.id,
                 details={"channel": channel, "source": "unsubscribe_link", "created": result.created,
                          "integration_token_id": token_id,
                          "fields": [n for n, v in (("email", email), ("phone", phone)) if v]})
    return result


def remove_opt_out(entry_id, reason, by):
    """Take an entry off the suppression list (soft: the row stays, with who, when and why; policy 3.2.2, 4.3).

    Removing an opt-out does not give marketing consent back: only the client can do that. Committed here.
    """
    reason = (reason or "").strip()
    if not reason:
        raise OptOutError(_("Give the reason for removing this opt-out."))
    if len(reason) > MAX_REASON:
        raise OptOutError(_("The reason is too long (at most %(max)d characters).", max=MAX_REASON))
    entry = db.session.get(MarketingOptOut, entry_id)
    if entry is None:
        raise OptOutError(_("That opt-out does not exist."))
    if entry.removed_at is not None:
        raise OptOutError(_("That opt-out was already removed."))
    entry.removed_at = utcnow()
    entry.removed_by_id = getattr(by, "id", None)
    entry.removal_reason = reason
    db.session.flush()
    audit.record("optout.remove", object_type="marketing_opt_out", object_id=entry.id,
                 actor=by,
                 details={"channel": entry.channel})
    return entry


# --- the rule "marketing consent ⇔ no opt-out" (policy 3.2.2): every marketing-consent change comes through here --

def give_marketing_consent(client, source, by=None, request_id=None, *, notice_version_id=None, channel=None):
    """Record the client's marketing consent and end their channel-'all' opt-outs, so the two agree.
    The caller commits."""
    consent = consents.give_consent(client, MARKETING, source, by=by, request_id=request_id,
                                    notice_version_id=notice_version_id, channel=channel)
    lift_for_consent(client, by=by)
    return consent


def withdraw_marketing_consent(client, source, by=None, request_id=None, *, channel=None):
    """Close the client's marketing consent and put their e-mail and phone on the suppression list (channel
    'all'), so the two agree. The caller commits. Returns the closed consent rows."""
    closed = consents.withdraw_consent(client, MARKETING, source, by=by, request_id=request_id, channel=channel)
    if client.email_norm or client.phone_e164:
        add_opt_out(client.email_norm, client.phone_e164, ALL,
                    source=source if source in SOURCES else "consent_withdrawal",
                    reason="marketing consent withdrawn", by=by, request_id=request_id, withdraw_consent=False)
    return closed


def consent_follows_opt_out(clients, source, by=None, request_id=None):
    """These clients opted out of all marketing: their marketing consent is withdrawn. The caller commits."""
    consents.withdraw_consents(clients, MARKETING, source=source, by=by, request_id=request_id)


def lift_for_consent(client, by=None):
    """The client gave marketing consent again: end their channel-'all' opt-outs (policy 3.2.2), audited.

    Channel-specific opt-outs (e.g. only SMS) stay: consent to marketing does not undo "no SMS".
    """
    conditions = []
    if client.email_norm:
        conditions.append(MarketingOptOut.email_hash == address_hash(client.email_norm))
    if client.phone_e164:
        conditions.append(MarketingOptOut.phone_hash == address_hash(client.phone_e164))
    if not conditions:
        return []
    entries = db.session.execute(
        select(MarketingOptOut).where(or_(*conditions), MarketingOptOut.channel == ALL,
                                      MarketingOptOut.removed_at.is_(None))
    ).scalars().all()
    for entry in entries:
        entry.removed_at = utcnow()
        entry.removed_by_id = getattr(by, "id", None)
        entry.removal_reason = "marketing consent given again"
        audit.record("optout.remove", object_type="marketing_opt_out", object_id=entry.id,
                     actor=by,
                     details={"channel": entry.channel, "cause": "consent_given"})
    db.session.flush()
    return entries


# --- matching --------------------------------------------------------------------------------------------------

def hash_condition(email=None, phone=None):
    """WHERE condition matching entries by the hashes of these (raw) addresses; None if neither is valid."""
    conditions = []
    email = (email or "").strip()
    phone = (phone or "").strip()
    if email:
        try:
            conditions.append(MarketingOptOut.email_hash == address_hash(normalise_email(email)))
        except InvalidIdentifier:
            pass
    if phone:
        try:
            conditions.append(MarketingOptOut.phone_hash == address_hash(normalise_phone(phone)))
        except InvalidIdentifier:
            pass
    return or_(*conditions) if conditions else None


def is_opted_out(email=None, phone=None, *, channel):
    """True if marketing on `channel` to this e-mail or phone is forbidden (policy 3.2.2).

    Matches keyed hashes only, so it still answers correctly after the client's erasure.
    """
    channel = check_channel(channel)
    condition = hash_condition(email, phone)
    if condition is None:
        return False
    found = db.session.execute(
        select(MarketingOptOut.id).where(condition, MarketingOptOut.channel.in_(channels_covering(channel)),
                                         MarketingOptOut.removed_at.is_(None)).limit(1)
    ).first()
    return found is not None


# --- export of hashes ------------------------------------------------------------------------------------------

EXPORT_HEADER = ("type", "hmac_sha256", "channel", "added_on")


@user_action
def start_hash_export(by=None):
    """Record the export of the list as hashes (committed before the first byte); returns the CSV chunks."""
    audit.record("optout.export_hashes", object_type="marketing_opt_out", actor=by)
    return csvstream.byte_chunks(None, export_hash_rows())


def export_hash_rows(batch_size=5000):
    """Yield the active suppression list as rows of hashes only (policy 3.2.2, 4.1): header first.

    Read in batches with a server-side cursor where the database has one, so the list is never held in memory.
    """
    yield EXPORT_HEADER
    query = (select(MarketingOptOut.email_hash, MarketingOptOut.phone_hash, MarketingOptOut.channel,
                    MarketingOptOut.created_at)
             .where(MarketingOptOut.removed_at.is_(None)).order_by(MarketingOptOut.id)
             .execution_options(yield_per=batch_size))
    for email_hash, phone_hash, channel, created_at in db.session.execute(query):
        day = created_at.date().isoformat()
        if email_hash:
            yield ("email", email_hash, channel, day)
        if phone_hash:
            yield ("phone", phone_hash, channel, day)

