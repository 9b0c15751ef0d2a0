"""The Kazakh and Russian catalogues are complete, well-formed and compiled, and the UI renders in both."""
import os
import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "backoffice" / "translations"
LANGUAGES = ("kk", "ru")
NPLURALS = {"kk": 2, "ru": 3}

# %(name)s, %(n)d, %s, %%, {0}, {name}
_PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs%]|\{[A-Za-z0-9_]*\}")


def _placeholders(text):
    return sorted(_PLACEHOLDER.findall(text))


def _read_po(lang):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def template():
    with open(TRANSLATIONS / "messages.pot", "rb") as fh:
        return read_po(fh)


def _pot_messages(template):
    return [m for m in template if m.id]


def test_template_covers_every_part_of_the_ui(template):
    sources = {path for m in _pot_messages(template) for path, _ in m.locations}
    assert any(p.startswith("templates/exports/") for p in sources), "the export summary sent to clients"
    assert any(p.startswith("templates/admin/") for p in sources)
    assert any(p.startswith("backoffice/") for p in sources)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_and_not_fuzzy(template, lang):
    catalog = _read_po(lang)
    problems = []
    for pot_message in _pot_messages(template):
        message = catalog.get(pot_message.id, pot_message.context)
        if message is None:
            problems.append(f"missing: {pot_message.id!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {pot_message.id!r}")
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        if isinstance(pot_message.id, (tuple, list)) and len(strings) != NPLURALS[lang]:
            problems.append(f"{len(strings)} plural forms instead of {NPLURALS[lang]}: {pot_message.id!r}")
        if not all(s and s.strip() for s in strings):
            problems.append(f"empty: {pot_message.id!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match(template, lang):
    catalog = _read_po(lang)
    problems = []
    for pot_message in _pot_messages(template):
        message = catalog.get(pot_message.id, pot_message.context)
        if message is None or not message.string:
            continue
        ids = pot_message.id if isinstance(pot_message.id, (tuple, list)) else (pot_message.id,)
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        expected = _placeholders(ids[-1])
        for s in strings:
            if _placeholders(s) != expected:
                problems.append(f"{pot_message.id!r} -> {s!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms_header(lang):
    catalog = _read_po(lang)
    assert catalog.num_plurals == NPLURALS[lang]
    header = dict(catalog.mime_headers)
    assert header["Plural-Forms"].startswith(f"nplurals={NPLURALS[lang]};")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_the_po(lang):
    po_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    mo_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), "run pybabel compile -d backoffice/translations"
    with open(mo_path, "rb") as fh:
        compiled = read_mo(fh)
    catalog = _read_po(lang)
    stale = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        compiled_message = compiled.get(message.id, message.context)
        compiled_string = compiled_message.string if compiled_message is not None else None
        expected = tuple(message.string) if isinstance(message.string, (tuple, list)) else message.string
        got = tuple(compiled_string) if isinstance(compiled_string, (tuple, list)) else compiled_string
        if got != expected:
            stale.append(message.id)
    assert not stale, f"messages.mo is out of date with messages.po (run pybabel compile): {stale[:5]}"


def _switch(client, lang, next_url):
    from flask_babel import refresh

    client.post(f"/language/{lang}", data={"next": next_url})
    # The test app context outlives requests, so Flask-Babel's per-context locale cache is cleared by hand.
    refresh()


@pytest.mark.parametrize("lang, expected", [("kk", ("Кіру", "Құпиясөз")), ("ru", ("Войти", "Пароль"))])
def test_login_page_renders_translated(client, lang, expected):
    _switch(client, lang, "/login")
    response = client.get("/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in expected:
        assert text in page
    assert "Sign in" not in page


@pytest.mark.parametrize("lang, expected", [("kk", ("Өтініштер", "Шығу")), ("ru", ("Запросы", "Выйти"))])
def test_admin_home_renders_translated(client, login_as, lang, expected):
    login_as("manager")
    _switch(client, lang, "/admin/")
    response = client.get("/admin/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in expected:
        assert text in page
    assert "Sign out" not in page
    assert "Nothing is assigned to you." not in page
