"""Searches and list reads of personal data (policy 4.3): search terms stay out of URLs, and every list page of
personal data shown is audited with the ids of its rows (never the term).

A search term submitted by POST is kept server-side behind a short-lived opaque token tied to the staff session
(table search_token), and the list URL carries only `search=<token>`: the term reaches neither the access log,
nor browser history, nor a proxy.
"""
import datetime as dt
import re
import secrets

from sqlalchemy import delete

from ..extensions import db
from ..models.base import utcnow
from ..models.security import SearchToken
from . import audit
from .transaction import commit_read_audit

TOKEN_MINUTES = 60
TOKEN_RE = re.compile(r"^st_[0-9a-f]{24}$")
MAX_TERM = 200


def is_token(value):
    return bool(value) and bool(TOKEN_RE.match(value))


def token_for(term, session_key):
    """A token standing for `term` in this staff session (one new row per search; caller's transaction)."""
    token = "st_" + secrets.token_hex(12)
    db.session.add(SearchToken(token=token, session_id=session_key, term=term[:MAX_TERM],
                               expires_at=utcnow() + dt.timedelta(minutes=TOKEN_MINUTES)))
    return token


def remember_search(term, session_key):
    """The POSTed search: store it, purge this session's expired tokens, commit, return the token."""
    db.session.execute(delete(SearchToken).where(SearchToken.session_id == session_key,
                                                 SearchToken.expires_at < utcnow()))
    token = token_for(term, session_key)
    db.session.commit()
    return token


def term_of(token, session_key):
    """The term behind `token` if it belongs to this session and has not expired, else None."""
    if not is_token(token) or not session_key:
        return None
    row = db.session.get(SearchToken, token)
    if row is None or row.session_id != session_key or row.expires_at < utcnow():
        return None
    return row.term


def record_list_read(object_type, ids, searched, filtered, page_kind, search=None):
    """Audit one list page of personal data: the ids shown and whether it was searched or filtered.

    `search`: more about a search answered on its POST (request_search.audit_details: kind and keyed hash).
    """
    details = {"ids": list(ids), "searched": bool(searched or search), "filtered": filtered, "page": page_kind}
    details.update(search or {})
    audit.record(f"{object_type}.list", object_type=object_type, details=details)
    commit_read_audit()


def record_detail_read(object_type, object_id):
    audit.record(f"{object_type}.read", object_type=object_type, object_id=object_id)
    commit_read_audit()
