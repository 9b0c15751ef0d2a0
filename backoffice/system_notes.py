"""What the system writes into a record for staff to read later (a job's error, a request's outcome, a system task's
error), kept as the message and its values and shown in the reader's language (kk, ru, en).

A job runs with no reader: a message turned into text there would be frozen in one language. So a note is stored
as JSON, ``{"note": msgid, "plural": msgid_plural, "n": count, "values": {...}}``, made from the same lazy message
(``_l(...)``, ``lazy_ngettext(...)``) that the catalogue translates. Its values are ids, counts, class names,
digests and legal-reference keys, never personal data (policy 4.3). Anything that is not a note — a reason a
member of staff typed, rows written before notes — is shown as it is.
"""
import json

from flask_babel import gettext, ngettext
from flask_babel.speaklater import LazyString

from . import labels

_PREFIX = '{"note": '


class LegalReference(str):
    """A value that is a key of labels.LEGAL_REFERENCES: shown with the law's official title in the reader's
    language."""

    def __str__(self):
        return labels.legal_reference(str.__str__(self))


def note(message, **values):
    """The text to store for `message`: a lazy message (its values with it), or a msgid with `values`."""
    if isinstance(message, LazyString):
        args, values = message._args, {**message._kwargs, **values}
        stored = {"note": args[0]}
        if message._func is ngettext or len(args) == 3:
            stored.update(plural=args[1], n=values.pop("num", args[2]))  # ngettext names the count "num"
    else:
        stored = {"note": str(message)}
    if values:
        stored["values"] = {name: _plain(value) for name, value in values.items()}
    return json.dumps(stored, ensure_ascii=False)  # "note" first: is_note() knows a note by its start


def _plain(value):
    if isinstance(value, LazyString):
        return {"note": json.loads(note(value))}
    if isinstance(value, LegalReference):
        return {"legal_reference": str.__str__(value)}
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)


def is_note(text):
    return isinstance(text, str) and text.startswith(_PREFIX)


def render(text):
    """The note in the current language; any other text unchanged (None → ""). Never raises: a text that only
    looks like a note (typed by staff, or damaged) is shown as written."""
    if not is_note(text):
        return text or ""
    try:
        return _render(json.loads(text))
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
        return text


def _value(value):
    if isinstance(value, dict) and isinstance(value.get("note"), dict):
        return _render(value["note"])
    if isinstance(value, dict) and isinstance(value.get("legal_reference"), str):
        return labels.legal_reference(value["legal_reference"])
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError("not a note's value")


def _render(stored):
    if not isinstance(stored, dict) or not isinstance(stored.get("note"), str):
        raise TypeError("not a note")
    values = stored.get("values") or {}
    if not isinstance(values, dict):
        raise TypeError("not a note's values")
    values = {str(name): _value(value) for name, value in values.items()}
    if "plural" in stored:
        if not isinstance(stored["plural"], str) or not isinstance(stored.get("n"), int):
            raise TypeError("not a plural note")
        return ngettext(stored["note"], stored["plural"], stored["n"], **values)
    return gettext(stored["note"], **values)


def init_app(app):
    app.add_template_filter(render, "note")
