"""The catalogs render the Law's and the policy's terms as docs/glossary.md says (rules read from that page)."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"
TRANSLATIONS = ROOT / "backoffice" / "translations"
# The documents a client (or the authority) reads: the export summary and the erasure certificate.
CLIENT_SOURCES = ("templates/exports/", "templates/documents/", "templates/admin/jobs/certificate.html")


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
CATALOG_RULES = [rule for rule in RULES if rule["scope"] != "legal"]
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


def _violations(rule, source, texts):
    must = re.compile(rule["must match"]) if rule["must match"] else None
    must_not = re.compile(rule["must not match"]) if rule["must not match"] else None
    problems = []
    for text in texts:
        if must and not must.search(text):
            problems.append(f"{rule['rule']}: {source!r} -> {text!r}: lacks {rule['must match']!r}")
        if must_not and must_not.search(text):
            problems.append(f"{rule['rule']}: {source!r} -> {text!r}: has {rule['must not match']!r}")
    return problems


def test_the_glossary_has_rules_for_both_languages():
    assert {rule["lang"] for rule in RULES} == {"kk", "ru"}
    assert {rule["scope"] for rule in RULES} <= {"all", "client", "legal"}
    assert len(CATALOG_RULES) >= 30
    assert len({rule["rule"] for rule in RULES}) == len(RULES), "rule names are unique"


@pytest.mark.parametrize("rule", CATALOG_RULES, ids=[rule["rule"] for rule in CATALOG_RULES])
def test_catalog_renders_the_term_as_the_glossary_says(catalogs, rule):
    matching = _matching(catalogs[rule["lang"]], rule)
    assert matching, f"{rule['rule']}: no msgid matches {rule['msgid matches']!r} (a dead rule cannot fail)"
    problems = []
    for message in matching:
        if (rule["rule"], _singular(message)) not in OTHER_SENSES:
            problems += _violations(rule, _singular(message), _forms(message))
    assert not problems, "\n".join(problems)


def _reference_problems(references):
    """Every rule applied to legal references (key -> {"en", "kk", "ru"}), the en text standing for the msgid."""
    problems, used = [], set()
    for rule in RULES:
        pattern = re.compile(rule["msgid matches"])
        for key, texts in references.items():
            if pattern.search(texts["en"]):
                used.add(rule["rule"])
                problems += _violations(rule, key, [texts[rule["lang"]]])
    dead = {rule["rule"] for rule in RULES if rule["scope"] == "legal"} - used
    return problems + [f"legal rule matches no reference: {name}" for name in sorted(dead)]


GLOSSARY_REFERENCES = {
    row["key"]: row for row in _table("Legal references on documents (keys of `backoffice/labels.py`)")}


def test_the_glossary_wordings_of_legal_references_pass_the_rules():
    assert len(GLOSSARY_REFERENCES) >= 10
    problems = _reference_problems(GLOSSARY_REFERENCES)
    assert not problems, "\n".join(problems)


def test_legal_references_of_the_labels_follow_the_glossary():
    """Legal references are label data (key -> en/kk/ru text), not catalog entries: the same rules hold for them,
    plus the full titles of the laws (scope `legal`); every key has its wording in the glossary."""
    labels = pytest.importorskip("backoffice.labels", reason="backoffice/labels.py arrives with the house branch")
    problems = _reference_problems(labels.LEGAL_REFERENCES)
    problems += [f"no wording in docs/glossary.md for {key}" for key in labels.LEGAL_REFERENCES
                 if key not in GLOSSARY_REFERENCES]
    assert not problems, "\n".join(problems)
