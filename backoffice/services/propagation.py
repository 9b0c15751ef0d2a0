"""What one other system is given for a request, per type (policy 5.2-5.4; Law No. 94-V art. 1(3)).

Rectification, blocking and its lifting are applied in the back-office first (services/completion, and
services/blocking for a block that ended); every other system taking part then gets its own job
(services/fanout), and the request completes once all are done (services/execution.complete_after_systems).
- erasure / consent withdrawal: the SQL connector applies the dataset's column actions;
- rectification: only the changed fields the system holds (its dataset's `fields`), with their new values;
  its rows are looked up by the client's identities as they were before the change as well as after (the
  other system still knows the client by the e-mail being corrected). The old identities are kept on the
  request only until it completes (`forget_previous`), never in a job, a URL or a log;
- blocking / unblocking: the SQL connector sets or clears the dataset's block flag; a webhook is told the type.
A manual system's owner confirms on the request page whatever the type.
"""
from ..models.requests import BLOCKING, RECTIFICATION, UNBLOCKING
from ..models.systems import WEBHOOK
from . import datamap, datasets, sql_connector

PREVIOUS = "previous"  # the request payload's key for the identities a rectification replaced
IDENTITY_FIELDS = ("email", "phone", "iin")  # rectifiable fields that are also identities (datasets.IDENTITY_KINDS)


def previous_identities(client, changes):
    """The identities a rectification is about to replace, as the other systems still hold them."""
    old = {"email": client.email_norm or (client.email or "").strip().lower() or None, "phone": client.phone_e164,
           "iin": client.iin}
    return {kind: [old[kind]] for kind in IDENTITY_FIELDS
            if kind in changes and old[kind] and old[kind] != changes[kind]}


def forget_previous(request):
    """Drop the replaced identities once every system is done (they served only to find the client's rows)."""
    payload = dict(request.payload or {})
    if payload.pop(PREVIOUS, None) is not None:
        request.payload = payload


def identifiers_for(system, client, request):
    """How this system finds the client: identities now plus replaced ones; a webhook gets only the kinds its
    dataset lists (never more)."""
    found = datamap.identifiers_of(client)
    for kind, values in ((request.payload or {}).get(PREVIOUS) or {}).items():
        found[kind] = found.get(kind, []) + [value for value in values if value not in found.get(kind, [])]
    if system.kind == WEBHOOK:
        wanted = datasets.parse(system.dataset or {}).identifiers
        return {kind: values for kind, values in found.items() if kind in wanted and values}
    return found


def changes_for(system, request):
    """{field: new value} of a rectification, for the fields this system holds only."""
    held = datasets.parse(system.dataset or {}).fields
    return {name: value for name, value in ((request.payload or {}).get("changes") or {}).items() if name in held}


def sql_part(system, request, identifiers):
    """The SQL connector's work for this request type, in one transaction on the system; counts only."""
    if request.type == RECTIFICATION:
        return sql_connector.rectify(system, identifiers, changes_for(system, request))
    if request.type in (BLOCKING, UNBLOCKING):
        return sql_connector.set_blocked(system, identifiers, request.type == BLOCKING)
    return sql_connector.erase(system, identifiers)


def webhook_part(system, request):
    """What a webhook body carries beyond the ids, type and identifiers; None when there is nothing to send
    (a rectification of fields this system does not hold)."""
    if request.type != RECTIFICATION:
        return {}
    changes = changes_for(system, request)
    return {"changes": changes} if changes else None
