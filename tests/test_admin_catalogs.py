"""Flask-Admin's own strings in kk and ru: the project's admin.po wins over Flask-Admin's bundled catalogs."""
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_admin import translations as bundled_translations

from tests.test_translations import _placeholders, _switch

TRANSLATIONS = Path(__file__).resolve().parent.parent / "backoffice" / "translations"
BUNDLED = Path(bundled_translations.__path__[0])


def _catalog(path, lang):
    with open(path, "rb") as fh:
        return read_po(fh, locale=lang)


def _strings(message):
    return tuple(message.string) if isinstance(message.string, (tuple, list)) else (message.string,)


@pytest.mark.parametrize("lang", ("kk", "ru"))
def test_admin_catalog_is_compiled_and_keeps_placeholders(lang):
    po = _catalog(TRANSLATIONS / lang / "LC_MESSAGES" / "admin.po", lang)
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "admin.mo", "rb") as fh:
        mo = read_mo(fh)
    problems = []
    for message in po:
        if not message.id:
            continue
        compiled = mo.get(message.id)
        if compiled is None or _strings(compiled) != _strings(message):
            problems.append(f"admin.mo is stale (pybabel compile -D admin -d backoffice/translations): {message.id!r}")
        ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
        if not all(s.strip() for s in _strings(message)):
            problems.append(f"empty: {message.id!r}")
        # The form for n == 1 may say "the record" instead of "1 record", as the singular msgid does.
        first, *others = _strings(message)
        allowed_first = [_placeholders(i) for i in ids]
        if _placeholders(first) not in allowed_first or any(_placeholders(s) != _placeholders(ids[-1]) for s in others):
            problems.append(f"placeholders: {message.id!r}")
    assert not problems, "\n".join(problems)


def test_kk_admin_catalog_covers_every_msgid_flask_admin_has():
    """Flask-Admin ships no Kazakh: every msgid of its (complete) bundled ru catalog needs a kk entry."""
    reference = _catalog(BUNDLED / "ru" / "LC_MESSAGES" / "admin.po", "ru")
    kk = _catalog(TRANSLATIONS / "kk" / "LC_MESSAGES" / "admin.po", "kk")
    missing = [m.id for m in reference if m.id and kk.get(m.id) is None]
    assert not missing, missing


def test_every_ru_override_changes_something():
    """The ru admin.po holds only fixes and additions; an entry equal to the bundle's is dead weight."""
    bundled = _catalog(BUNDLED / "ru" / "LC_MESSAGES" / "admin.po", "ru")
    ours = _catalog(TRANSLATIONS / "ru" / "LC_MESSAGES" / "admin.po", "ru")
    same = [m.id for m in ours if m.id and bundled.get(m.id) is not None and _strings(bundled.get(m.id)) == _strings(m)]
    assert not same, same


EXPECTED = {
    "ru": {"present": ("25 записей", "50 записей", "100 записей", "Добавить фильтр", "Сбросить фильтры",
                       "Действия с выбранными"),
           "absent": ("элементы", "Добавить Фильтр", "Сброс Фильтров", "С выбранным<")},
    "kk": {"present": ("25 жазба", "50 жазба", "100 жазба", "Сүзгі қосу", "Сүзгілерді тазарту",
                       "Таңдалғандарға әрекет"),
           "absent": ()},
}


@pytest.mark.parametrize("lang", ("ru", "kk"))
def test_list_chrome_uses_the_project_catalog(app, client, login_as, lang):
    login_as("manager")
    _switch(client, lang, "/admin/requests/")
    view = next(v for v in app.extensions["backoffice_admin"]._views if v.endpoint == "requests")
    type_filter = next(i for i, f in enumerate(view._filters) if f.column.key == "type")
    page = client.get(f"/admin/requests/?flt0_{type_filter}=erasure").get_data(as_text=True)
    for text in EXPECTED[lang]["present"]:
        assert text in page, text
    for text in EXPECTED[lang]["absent"] + ("25 items", "50 items", "100 items", ">Add Filter<", "Reset Filters",
                                             "With selected"):
        assert text not in page, text
