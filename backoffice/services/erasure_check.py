"""After an erasure the service checks its own work (policy 5.3): no identifier of the client is left behind.

Before deleting, `identifiers_of` takes the client's identifiers into memory (normalised e-mail, phones, IIN/BIN,
names, document numbers, passenger names of their bookings, what requesters and grants named). They are never
stored, logged or put in a job argument. After the commit, `verify` searches every text column of every row still
linked to the client or to the client's requests, plus the whole of the tables that hold free text. A hit turns
the certificate's outcome from "complete" into "residual", is audited (table and column names only) and shows as
an alert on the request page and the certificate.
"""
import logging

from sqlalchemy import JSON, String, Text, or_, select, text

from ..extensions import db
from ..identifiers import normalise_email, normalise_phone, try_normalise
from ..models.disclosures import DisclosureGrant
from ..models.records import Booking
from ..models.text_search import FREE_TEXT_COLUMNS, free_text_sql  # trigram-indexed on PostgreSQL
from ..models.requests import PrivacyRequest
from . import audit

log = logging.getLogger("backoffice.jobs")

# Shorter values ("Li", a 3-digit fragment) would match unrelated text; every real identifier is longer.
MIN_LENGTH = 4
# At most this many values are looked for in whole tables (each is one trigram lookup per free-text column).
MAX_SEARCHED_EVERYWHERE = 64
RESIDUAL = "residual"


class Identifiers(frozenset):
    """The client's identifiers (in memory only). `everywhere`: the ones the whole-table search looks for."""

    everywhere = frozenset()


def identifiers_of(client):
    """The client's identifiers as a set of strings (in memory only).

    Whole tables are searched for who the client is (name, e-mail, phones, IIN, what requesters typed, the names in
    their grants) and, up to MAX_SEARCHED_EVERYWHERE values in all, for what their bookings hold (passenger names,
    document numbers); the rows linked to the client are checked for all of them. A client with thousands of
    bookings would otherwise turn each whole-table search into thousands of lookups.
    """
    who = {client.full_name, client.email, client.email_norm, client.phone, client.phone_e164, client.iin}
    if client.email:
        who.add(try_normalise(normalise_email, client.email))
    if client.phone:
        who.add(try_normalise(normalise_phone, client.phone))
    for name, email, phone in db.session.execute(
            select(PrivacyRequest.requester_name, PrivacyRequest.requester_email, PrivacyRequest.requester_phone)
            .where(PrivacyRequest.client_id == client.id)):
        who.update((name, email, phone))
    who.update(db.session.execute(
        select(DisclosureGrant.recipient).where(DisclosureGrant.client_id == client.id)).scalars())
    held = set()
    for name, document in db.session.execute(
            select(Booking.passenger_name, Booking.document_number).where(Booking.client_id == client.id)):
        held.update((name, document))
    who, held = _usable(who), _usable(held)
    identifiers = Identifiers(who | held)
    identifiers.everywhere = frozenset(who | held if len(who | held) <= MAX_SEARCHED_EVERYWHERE else who)
    return identifiers


def _usable(values):
    return {value.strip() for value in values if value and len(value.strip()) >= MIN_LENGTH
            and not value.startswith("[")}


def _text_columns(table):
    return [column for column in table.columns if isinstance(column.type, (String, Text, JSON))]


def _linked(table, client_ids, request_ids, today):
    """(condition, owner columns) for the rows of `table` still linked to the clients or to their requests, or
    (None, ()) for an unlinked table. The owner columns say whose row it is."""
    if table.name == "client":
        return table.c.id.in_(client_ids), (table.c.id,)
    if table.name == "privacy_request":
        return table.c.id.in_(request_ids), (table.c.id,)
    if table.name == Booking.__tablename__:
        # An unflown ticket is kept as it is by law (art. 8(2)) and listed in the certificate's exceptions.
        return table.c.client_id.in_(client_ids) & (table.c.flight_date < today), (table.c.client_id,)
    conditions, owners = [], []
    if "client_id" in table.c:
        conditions.append(table.c.client_id.in_(client_ids))
        owners.append(table.c.client_id)
    if "request_id" in table.c:
        conditions.append(table.c.request_id.in_(request_ids))
        owners.append(table.c.request_id)
    return (or_(*conditions), tuple(owners)) if conditions else (None, ())


def _owners(table, owner_columns, values, subjects_of_client, client_of_request):
    """The subjects (their indexes) a linked row belongs to: by its client, or by the client of its request. Two
    requests of one client in a batch are two subjects of that client: the row is checked for both."""
    found = set()
    for column, value in zip(owner_columns, values):
        by_request = table.name == "privacy_request" or column.name == "request_id"
        client_id = client_of_request.get(value) if by_request else value
        found.update(subjects_of_client.get(client_id, ()))
    return found


def _patterns(values, postgres):
    """The values to search for: PostgreSQL's ILIKE folds case itself; SQLite's LIKE folds ASCII only, so a value
    with other letters (Cyrillic names) is also searched in lower and upper case. An ASCII value once is enough:
    each pattern is one more LIKE on every row of a whole-table scan there."""
    if postgres:
        return sorted(set(values))
    return sorted({form for value in values
                   for form in ((value,) if value.isascii() else (value, value.lower(), value.upper()))})


class _Findings:
    """Per subject: {"table.column": rows} and the (column, row) pairs counted already (a row found twice counts
    once)."""

    def __init__(self, identifiers):
        self.folded = [[value.casefold() for value in values] for values in identifiers]
        self.hits = [{} for _ in identifiers]
        self.seen = [set() for _ in identifiers]

    def check(self, table, columns, row, subjects):
        key_value, values = row[0], row[-len(columns):]
        for column, value in zip(columns, values):
            text = str(value).casefold() if value is not None else ""
            if not text:
                continue
            for subject in subjects:
                if any(identifier in text for identifier in self.folded[subject]):
                    where = f"{table.name}.{column.name}"
                    if (where, key_value) not in self.seen[subject]:
                        self.seen[subject].add((where, key_value))
                        self.hits[subject][where] = self.hits[subject].get(where, 0) + 1


def find_residuals(client_id, identifiers, today):
    """{"table.column": rows} for every searched column still holding an identifier, and the columns searched."""
    (hits,), checked = find_residuals_of_many([(client_id, identifiers)], today)
    return hits, checked


def find_residuals_of_many(subjects, today):
    """For [(client id, identifiers)]: ([{"table.column": rows} per subject], columns searched).

    Linked rows are few (a tombstone, depersonalised bookings, the requests and their history): they are read and
    checked here, every text column, one statement per table for all the subjects. The free-text columns are
    searched in SQL over the whole table, one statement per table with every (column, value) pair of every subject
    OR-ed; each row found is checked against each subject's own identifiers. A batch of 25 erasures runs the same
    ~25 statements as one.
    """
    client_ids = sorted({client_id for client_id, _ in subjects})
    subjects_of_client = {}
    for n, (client_id, _) in enumerate(subjects):
        subjects_of_client.setdefault(client_id, []).append(n)
    client_of_request = dict(db.session.execute(
        select(PrivacyRequest.id, PrivacyRequest.client_id).where(PrivacyRequest.client_id.in_(client_ids))).all())
    request_ids = sorted(client_of_request)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    patterns = _patterns({value for _, values in subjects for value in _everywhere(values)}, postgres)
    findings = _Findings([values for _, values in subjects])
    everyone = range(len(subjects))
    checked = set()
    if postgres and patterns:
        # The trigram indexes answer a rare substring in ~1 ms a pattern; PostgreSQL's cost model rates them above
        # a read of the whole table once a handful of patterns are OR-ed (bench: 10 ms vs 79 ms at 100,000
        # messages): no whole-table read while the check runs (every linked column it reads is indexed too).
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
    for table in db.metadata.sorted_tables:
        columns = _text_columns(table)
        key = list(table.primary_key.columns)[:1]
        linked, owners = _linked(table, client_ids, request_ids, today) if columns and key else (None, ())
        if linked is not None:
            checked.update((table.name, column.name) for column in columns)
            if any(findings.folded):
                labelled = [column.label(f"owner_{n}") for n, column in enumerate(owners)]  # the key may be one
                for row in db.session.execute(select(*key, *labelled, *columns).where(linked)):
                    findings.check(table, columns, row, _owners(table, owners, row[1:1 + len(owners)],
                                                                subjects_of_client, client_of_request))
        free = [table.c[name] for name in FREE_TEXT_COLUMNS.get(table.name, ()) if name in table.c]
        if free and key:
            checked.update((table.name, column.name) for column in free)
            if patterns:
                _search(table, key, free, patterns, postgres, findings, everyone, subjects)
    if postgres and patterns:
        db.session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))
    return findings.hits, len(checked)


SEARCH_LIMIT = 1000  # rows fetched per subject and table; a batch shares 25 × this


def _everywhere(values):
    return getattr(values, "everywhere", values)


def _search(table, key, free, patterns, postgres, findings, everyone, subjects):
    """One whole-table search for the batch; should it find more rows than its share, each subject is searched on
    its own instead (as a single erasure is), so one subject's common value never crowds out another's rows."""
    expression = free_text_sql(table.name)
    limit = SEARCH_LIMIT * len(subjects)
    rows = db.session.execute(select(*key, *free).where(free_text_match(expression, patterns, postgres))
                              .limit(limit + 1)).all()
    if len(rows) <= limit or len(subjects) == 1:
        for row in rows[:limit]:
            findings.check(table, free, row, everyone)
        return
    for n, (_, values) in enumerate(subjects):
        own = _patterns(_everywhere(values), postgres)
        if own:
            for row in db.session.execute(select(*key, *free).where(free_text_match(expression, own, postgres))
                                          .limit(SEARCH_LIMIT)):
                findings.check(table, free, row, (n,))


def free_text_match(expression_sql, patterns, case_insensitive=False):
    """The table's free text (models/text_search.free_text_sql) contains any of `patterns` (ILIKE or LIKE '%…%': on
    PostgreSQL its trigram index answers it). A value spanning two columns matches here too; the row is then
    checked column by column (_Findings.check), so it counts only where a column holds it.

    Written as SQL text with one bound parameter a value: a batch searches for hundreds of values, and building and
    compiling as many SQLAlchemy expressions cost more than the search itself (0.3 s a batch)."""
    operator = "ILIKE" if case_insensitive else "LIKE"  # ILIKE: PostgreSQL (its trigram index answers it too)
    condition = " OR ".join(f"({expression_sql}) {operator} :v{n} ESCAPE '/'" for n in range(len(patterns)))
    return text(condition).bindparams(**{f"v{n}": f"%{_escaped(value)}%" for n, value in enumerate(patterns)})


def _escaped(value):
    return value.replace("/", "//").replace("%", "/%").replace("_", "/_")


def verify(request_id, client_id, identifiers, today, commit=True):
    """Search for what the erasure should have removed; record the result on the certificate and audit it.

    `commit=False`: a batch records every subject's result, then commits once."""
    (result,) = verify_many([(request_id, client_id, identifiers)], today, commit=commit)
    return result


def verify_many(subjects, today, commit=True):
    """`verify` for [(request id, client id, identifiers)] with one search for all (a batch's erasures)."""
    hits_of, checked = find_residuals_of_many([(client_id, ids) for _, client_id, ids in subjects], today)
    results = []
    for (request_id, _client_id, identifiers), hits in zip(subjects, hits_of):
        privacy_request = db.session.get(PrivacyRequest, request_id)
        certificate = dict(privacy_request.certificate or {})
        result = {"residual_matches": sum(hits.values()), "columns_checked": checked,
                  "residual_columns": sorted(hits), "identifiers_checked": len(identifiers),
                  "identifiers_searched_everywhere": len(getattr(identifiers, "everywhere", identifiers))}
        certificate["verification"] = result
        if hits:
            certificate["outcome"] = RESIDUAL
            log.error("erasure of request %s left identifiers in %s", request_id, ", ".join(sorted(hits)))
        privacy_request.certificate = certificate
        audit.record("erasure.residual_data" if hits else "erasure.verified", object_type="privacy_request",
                     object_id=request_id, request_id=request_id,
                     details={"columns_checked": checked, "residual_columns": sorted(hits)})
        results.append(result)
    if commit:
        db.session.commit()
    return results
