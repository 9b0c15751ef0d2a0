"""Flask-Admin's own strings: the project's `admin` catalogs win over the ones Flask-Admin bundles.

Flask-Babel merges a domain's directories in order and a later catalog overrides an earlier one for every msgid
they share. Flask-Admin puts `Admin(translations_path=...)` FIRST and its bundled directory last, so its bundled
ru strings («25 элементы», «Добавить Фильтр») would beat a project override. Here the domain lists the bundled
directory first and ours last: backoffice/translations/<lang>/LC_MESSAGES/admin.po holds only the entries we
change or add (ru), or the whole catalog where Flask-Admin ships none (kk); every other msgid comes from the bundle.
"""
from flask_admin import babel as admin_babel
from flask_admin import translations as bundled_translations


def catalog_order(project_directory):
    """The directories of Flask-Admin's `admin` domain, lowest priority first."""
    return [bundled_translations.__path__[0], str(project_directory)]


def let_project_catalogs_win(project_directory):
    """Make the project's admin.po override Flask-Admin's bundled catalogs (idempotent; one domain per process)."""
    domain = admin_babel.domain
    order = catalog_order(project_directory)
    # Flask-Babel's Domain keeps the directories it was built with (its constructor argument) here; the public
    # property needs a request (Flask-Admin's override asks for the current view).
    if domain._translation_directories != order:
        domain._translation_directories = order
        domain.cache.clear()
