"""Finding privacy requests by what staff typed (issue 14): the request number, or the client's e-mail, phone (any
format), IIN or PNR through the same indexed lookup as client search (services/clients), never LIKE '%x%'.

The term arrives by POST and is never put in a URL or a log; the page it shows is audited once, with the ids of its
rows, the kind of term and the term's keyed hash (one user action, one event, one commit).
"""
import re

from sqlalchemy import select

from ..models.clients import Client
from ..models.requests import PrivacyRequest
from . import clients as client_search

# '#123', '123', 'R-123': a request number. Twelve digits are an IIN, ten and more a phone: never a number.
_NUMBER_RE = re.compile(r"^(?:#|r-?|№\s*)?(\d{1,9})$", re.IGNORECASE)


def classify(term):
    """('number', id) | (client search kind, normalised value) | (None, None) for an empty term."""
    term = (term or "").strip()
    match = _NUMBER_RE.fullmatch(term)
    if match:
        return "number", int(match.group(1))
    return client_search.classify_term(term)


def search_condition(term):
    """A WHERE condition on PrivacyRequest served by an index (the id, or client_id IN an indexed client lookup)."""
    kind, value = classify(term)
    if kind is None:
        return None
    if kind == "number":
        return PrivacyRequest.id == value
    clients = client_search.search_condition(term)
    return PrivacyRequest.client_id.in_(select(Client.id).where(clients))


def audit_details(term):
    """What the list page's audit event records of a search: the kind of term and (audit.py) its keyed hash."""
    kind, _value = classify(term)
    return {"search_kind": kind or "empty", "search_term": term}
