"""Lists that stay fast at millions of rows (issue 7): row-id cursors, pages from the end, counts that say what they are.

Speed itself is measured in bench/; these tests check that the fast paths show the right rows.
"""
import html
import re

import pytest
from sqlalchemy import text

from backoffice.extensions import db
from backoffice.identifiers import name_key
from backoffice.models.clients import Client
from tests.conftest import is_postgres
from tests.factories import valid_iin

ROWS = 23
PAGE = 5
SURNAMES = ["Ахметов", "Бекова", "Ахметова", None]  # None: an erased tombstone (sorts with NULL names)


@pytest.fixture
def clients(app):
    for i in range(ROWS):
        surname = SURNAMES[i % len(SURNAMES)]
        full = f"{surname} Клиент{i:02d}" if surname else None
        db.session.add(Client(full_name=full, name_key=name_key(full) if full else None,
                              email=f"c{i}@mail.kz" if full else None, email_norm=f"c{i}@mail.kz" if full else None,
                              iin=valid_iin(i) if full else None, status="active" if full else "erased"))
    db.session.commit()
    if is_postgres():
        db.session.execute(text("ANALYZE client"))
        db.session.commit()
    return [c.id for c in db.session.query(Client).order_by(Client.id.desc())]


@pytest.fixture
def small_pages(app, monkeypatch):
    view = next(v for v in app.extensions["backoffice_admin"]._views if v.endpoint == "clients")
    monkeypatch.setattr(view, "page_size", PAGE)
    monkeypatch.setattr(view, "count_cap", 10)
    return view


def _ids(page):
    return [int(i) for i in dict.fromkeys(re.findall(r"details/\?id=(\d+)", page))]


def _link(page, label):
    match = re.search(r'href="([^"]+)">' + re.escape(label), page)
    return html.unescape(match.group(1)) if match else None


def _walk(client, url, label):
    seen, pages = [], 0
    while url:
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        seen.append(_ids(page))
        url = _link(page, label)
        pages += 1
        assert pages < 50, "the pager does not end"
    return seen


def test_next_links_visit_every_row_once_in_order(client, login_as, clients, small_pages):
    login_as("support")
    pages = _walk(client, "/admin/clients/", "Next ›")
    assert [i for page in pages for i in page] == clients
    assert all(len(page) == PAGE for page in pages[:-1])


def test_previous_links_from_the_last_page_walk_back_to_the_first(client, login_as, clients, small_pages):
    login_as("support")
    pages = _walk(client, "/admin/clients/?page=-1", "‹ Previous")
    assert pages[0] == clients[-PAGE:]
    assert [i for page in reversed(pages) for i in page] == clients


@pytest.mark.parametrize("cap", [10, 1000])  # an estimated size (OFFSET pages) and an exact one (read from the end)
def test_numbered_pages_show_the_same_rows_as_offset_pages(client, login_as, clients, small_pages, cap):
    small_pages.count_cap = cap
    login_as("support")
    for number in range(0, (ROWS + PAGE - 1) // PAGE):
        page = client.get(f"/admin/clients/?page={number}").get_data(as_text=True)
        assert _ids(page) == clients[number * PAGE:(number + 1) * PAGE], number
    assert _ids(client.get("/admin/clients/?page=-2").get_data(as_text=True)) == clients[-2 * PAGE:-PAGE]
    assert _ids(client.get("/admin/clients/?page=99").get_data(as_text=True)) == []


def test_cursor_walk_follows_a_sort_by_a_non_nullable_column_with_ties(client, login_as, clients, small_pages):
    login_as("support")
    status_column = [name for name, _label in small_pages._list_columns].index("status")
    pages = _walk(client, f"/admin/clients/?sort={status_column}", "Next ›")
    expected = [c.id for c in db.session.query(Client).order_by(Client.status, Client.id)]
    assert [i for page in pages for i in page] == expected


def test_sort_by_a_nullable_column_pages_by_number_and_loses_no_row(client, login_as, clients, small_pages):
    login_as("support")
    name_column = [name for name, _label in small_pages._list_columns].index("full_name")
    pages = _walk(client, f"/admin/clients/?sort={name_column}", "Next ›")
    seen = [i for page in pages for i in page]
    assert sorted(seen) == sorted(clients)
    assert len(seen) == len(set(seen))


def test_name_search_lists_matches_in_name_order_across_pages(client, login_as, clients, small_pages):
    login_as("support")
    pages = _walk(client, "/admin/clients/?search=ахметов", "Next ›")
    expected = [c.id for c in db.session.query(Client).filter(Client.name_key.like("ахметов%"))
                .order_by(Client.name_key, Client.id)]
    assert len(expected) > PAGE
    assert [i for page in pages for i in page] == expected


def test_exact_searches_page_with_cursors_in_the_default_order(client, login_as, clients, small_pages):
    login_as("support")
    small_pages.page_size = 1
    db.session.execute(text("UPDATE client SET email_norm = 'same@mail.kz' WHERE id IN (2, 3, 4)"))
    db.session.commit()
    pages = _walk(client, "/admin/clients/?search=same@mail.kz", "Next ›")
    assert pages == [[4], [3], [2]]


def test_cursor_is_not_carried_into_sort_links_or_the_search_form(client, login_as, clients, small_pages):
    login_as("support")
    page = client.get(f"/admin/clients/?after={clients[PAGE]}").get_data(as_text=True)
    assert _ids(page) == clients[PAGE + 1:2 * PAGE + 1]
    sort_links = [html.unescape(h) for h in re.findall(r'href="([^"]*sort=[^"]*)"', page)]
    assert sort_links and not any("after=" in link for link in sort_links)
    search_form = page[page.index('id="search_form"'):].split("</form>")[0] if 'id="search_form"' in page else ""
    assert "after" not in search_form


def test_unfiltered_count_above_the_cap_is_an_estimate_and_says_so(client, login_as, clients, small_pages):
    login_as("support")
    page = client.get("/admin/clients/").get_data(as_text=True)
    assert f"About {ROWS} rows" in page
    assert f"≈ {ROWS}" in page


def test_filtered_count_stops_at_the_cap_and_says_so(client, login_as, clients, small_pages):
    login_as("support")
    page = client.get("/admin/clients/?search=c1@mail.kz", follow_redirects=True).get_data(as_text=True)
    assert "1 row<" in page
    small_pages.count_cap = 3
    page = client.get("/admin/clients/?search=ахметов", follow_redirects=True).get_data(as_text=True)
    assert "More than 3 rows" in page
    assert "3+" in page


def test_small_lists_are_counted_exactly(client, login_as, clients, small_pages):
    login_as("support")
    small_pages.count_cap = 1000
    page = client.get("/admin/clients/").get_data(as_text=True)
    assert f"{ROWS} rows" in page and "About" not in page


@pytest.mark.parametrize("query", ["after=abc", "before=-5", "after=999999", "page=-99999", "page=x",
                                   "after=99999999999999999999", "page=99999999999999999999",
                                   "page=-99999999999999999999"])
def test_bad_paging_input_never_fails(client, login_as, clients, small_pages, query):
    login_as("support")
    assert client.get(f"/admin/clients/?{query}").status_code == 200
