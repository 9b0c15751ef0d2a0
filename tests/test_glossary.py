"""The catalogs render the Law's and the policy's terms as docs/glossary.md says (rules read from that page)."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"
TRANSLATIONS = ROOT / "backoffice" / "translations"
# The documents a client (or the authority) reads: the export summary and the erasure certificate.
CLIENT_SOURCES = ("templates/exports/", "templates/admin/jobs/_certificate.html",
                  "templates/admin/jobs/certificate_document.html")


def _cells(line):
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    return [c.replace("\\|", "|").strip("`") for c in cells]


def _table(heading):
    """The first markdown table under `## heading`, as dicts keyed by its header row."""
    lines = GLOSSARY.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}")
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append(_cells(line))
    header, _rule, *body = rows
    return [dict(zip(header, row)) for row in body]


RULES = _table("Rules the catalog test enforces")
OTHER_SENSES = {(row["rule"], row["msgid"]) for row in _table("Other senses")}


def _catalog(lang):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def catalogs():
    return {lang: _catalog(lang) for lang in ("kk", "ru")}


def _singular(message):
    return message.id[0] if isinstance(message.id, (tuple, list)) else message.id


def _forms(message):
    return message.string if isinstance(message.string, (tuple, list)) else (message.string,)


def _in_scope(message, scope):
    if scope == "all":
        return True
    assert scope == "client", f"unknown scope {scope!r}"
    return any(path.startswith(CLIENT_SOURCES) for path, _line in message.locations)


def _matching(catalog, rule):
    pattern = re.compile(rule["msgid matches"])
    return [m for m in catalog if m.id and _in_scope(m, rule["scope"]) and pattern.search(_singular(m))]


def test_the_glossary_has_rules_for_both_languages():
    assert {rule["lang"] for rule in RULES} == {"kk", "ru"}
    assert len(RULES) >= 30
    assert len({rule["rule"] for rule in RULES}) == len(RULES), "rule names are unique"


@pytest.mark.parametrize("rule", RULES, ids=[rule["rule"] for rule in RULES])
def test_catalog_renders_the_term_as_the_glossary_says(catalogs, rule):
    matching = _matching(catalogs[rule["lang"]], rule)
    assert matching, f"{rule['rule']}: no msgid matches {rule['msgid matches']!r} (a dead rule cannot fail)"
    must = re.compile(rule["must match"]) if rule["must match"] else None
    must_not = re.compile(rule["must not match"]) if rule["must not match"] else None
    problems = []
    for message in matching:
        if (rule["rule"], _singular(message)) in OTHER_SENSES:
            continue
        for text in _forms(message):
            if must and not must.search(text):
                problems.append(f"{_singular(message)!r} -> {text!r}: lacks {rule['must match']!r}")
            if must_not and must_not.search(text):
                problems.append(f"{_singular(message)!r} -> {text!r}: has {rule['must not match']!r}")
    assert not problems, "\n".join(problems)


def test_every_other_sense_is_a_live_entry_of_its_rule(catalogs):
    rules = {rule["rule"]: rule for rule in RULES}
    stale = []
    for name, msgid in sorted(OTHER_SENSES):
        rule = rules.get(name)
        if rule is None or msgid not in {_singular(m) for m in _matching(catalogs[rule["lang"]], rule)}:
            stale.append((name, msgid))
    assert not stale, stale
