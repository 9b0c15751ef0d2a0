"""Keyed hashes that let us match an address without keeping it (policy 3.2.2, 4.3)."""
import hashlib
import hmac

from flask import current_app


def keyed_hash(value, key=None):
    """HMAC-SHA-256 (hex) of an already-normalised value with the server's hash key.

    The same normalised value always gives the same hash, so an erased client's opt-out still matches,
    but the value cannot be recovered from it without the key.
    """
    if value is None:
        return None
    key = key if key is not None else current_app.config["BACKOFFICE_HASH_KEY"]
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
