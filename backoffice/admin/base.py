"""The base admin views: they own access control and fast lists, so no subclass repeats either (policy 4.3)."""
import math

from flask import abort, flash, g, redirect, request, session, url_for
from flask_admin import expose
from flask import has_request_context
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_babel import format_number, get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from sqlalchemy import Column, and_, func, or_, select, text
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Client, MarketingOptOut, PrivacyRequest
from ..permissions import has_any
from ..services import list_reads, sessions


class SecureForm(FlaskForm):
    """Flask-Admin's forms carry the Flask-WTF CSRF token (Flask-Admin's own default has none)."""

    def __init__(self, formdata=_Auto, obj=None, prefix="", **kwargs):
        # Flask-Admin's Unique validator compares against form._obj, which its own BaseForm sets.
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)


def _deny():
    if not getattr(current_user, "is_authenticated", False):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


class RoleMixin:
    """Declare `roles_read` and `roles_write`; access and menu follow from them on every request."""

    roles_read = frozenset()
    roles_write = frozenset()

    def is_accessible(self):
        return has_any(set(self.roles_read) | set(self.roles_write))

    def inaccessible_callback(self, name, **kwargs):
        return _deny()

    @property
    def may_write(self):
        return has_request_context() and has_any(self.roles_write)


class ProtectedView(RoleMixin, BaseView):
    """A custom (non-model) admin page behind the same role check."""


class ProtectedIndexView(RoleMixin, AdminIndexView):
    """The home page: every signed-in staff member may open it (Flask-Admin's is open by default)."""

    def is_accessible(self):
        return getattr(current_user, "is_authenticated", False)


class ListCount(int):
    """A list's row count that says how it was obtained: "exact", "estimated" (planner statistics) or "capped".

    Flask-Admin computes page numbers from it like from any int; templates show it as "≈ 1,000,000" or "10,000+".
    """

    def __new__(cls, value, kind="exact"):
        obj = super().__new__(cls, value)
        obj.kind = kind
        return obj

    def label(self):
        if self.kind == "estimated":
            return _("≈ %(count)s", count=format_number(int(self)))
        if self.kind == "capped":
            return _("%(count)s+", count=format_number(int(self)))
        return format_number(int(self))

    def __html__(self):
        from markupsafe import escape

        return str(escape(self.label()))


def estimate_rows(session, model):
    """A cheap row-count estimate for a whole table, or None when there is no cheap one.

    PostgreSQL: pg_class.reltuples, kept by VACUUM/ANALYZE (autovacuum refreshes it after ~10 % change).
    SQLite: max(id) - min(id) + 1, two index probes; exact while rows are not deleted (clients are erased,
    not deleted; the audit log is append-only), an over-estimate otherwise.
    """
    table = model.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        value = session.execute(text("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"),
                                {"name": table.name}).scalar()
        return int(value) if value is not None and value >= 0 else None
    pk = list(table.primary_key.columns)
    if len(pk) != 1:
        return None
    low = select(func.min(pk[0])).scalar_subquery()  # two subqueries: SQLite optimises a lone min()/max() only
    high = select(func.max(pk[0])).scalar_subquery()
    value = session.execute(select(high - low + 1)).scalar()
    return int(value) if value is not None else None


# Lists of personal data: every page shown is audited with its row ids (services/list_reads.py).
AUDITED_LISTS = {Client: "client", PrivacyRequest: "privacy_request", MarketingOptOut: "marketing_opt_out"}
# Full records whose view does not audit itself (the client page records client.view on its own).
AUDITED_DETAILS = {PrivacyRequest: "privacy_request"}
_MAX_PAGE = 10 ** 9
_MAX_INT = 2 ** 63 - 1


def _within_bounds(value):
    """True when a parsed filter value fits both databases: 64-bit integers, finite floats, short strings."""
    if isinstance(value, (list, tuple)):
        return len(value) <= 1000 and all(_within_bounds(v) for v in value)
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_MAX_INT <= value <= _MAX_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 500
    return True


def _cursor_arg(name):
    value = request.args.get(name, type=int)
    return value if value is not None and abs(value) < 2 ** 62 else None


class RoleModelView(RoleMixin, ModelView):
    """A model view whose create/edit/delete rights are computed per request from the user's roles.

    Subclasses switch capabilities on with `allow_create`, `allow_edit`, `allow_delete`; they are granted
    only to `roles_write`. Actions declare their roles in `action_roles`, checked on the server.

    Lists stay fast at millions of rows (see get_list): estimated or capped counts (`count_cap`), row-id cursor
    pages, the last page read backwards, and `search_order()` for searches that an index range serves.
    """

    form_base_class = SecureForm
    allow_create = False
    allow_edit = False
    allow_delete = False
    allow_details = True
    action_roles = {}
    can_export = False
    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)
    list_template = "admin/backoffice_list.html"
    # Counting stops here for searched/filtered lists ("10,000+"); unfiltered lists use an estimate above it.
    count_cap = 10_000

    @property
    def can_create(self):
        return self.allow_create and self.may_write

    @property
    def can_edit(self):
        return self.allow_edit and self.may_write

    @property
    def can_delete(self):
        return self.allow_delete and self.may_write

    @property
    def can_view_details(self):
        return self.allow_details

    # Flask-Admin quietly redirects when a capability is off; we answer 403 so that the server, not the
    # hidden button, is what enforces the matrix.
    _capability_of_method = {
        "create_view": "can_create", "edit_view": "can_edit", "delete_view": "can_delete",
        "ajax_update": "can_edit", "export": "can_export", "details_view": "can_view_details",
    }

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        capability = self._capability_of_method.get(name)
        if capability is not None and not getattr(self, capability):
            abort(403)
        if name == "index_view" and request.args.get("search") and not list_reads.is_token(request.args["search"]):
            # A typed or old link with the term in it: swap the term for a token at once.
            args = request.args.to_dict()
            args["search"] = self._search_token(args["search"])
            return redirect(self.get_url(".index_view", **args))
        if name == "details_view" and self.model in AUDITED_DETAILS:
            row = self.get_one(request.args.get("id"))
            if row is not None:
                list_reads.record_detail_read(AUDITED_DETAILS[self.model], row.id)
        if name == "action_view" and request.method == "POST":
            action = request.form.get("action", "")
            if action not in dict(self._actions or []) or not self.is_action_allowed(action):
                abort(403)
        return None

    def is_action_allowed(self, name):
        if name == "delete":
            return self.can_delete
        roles = self.action_roles.get(name)
        return roles is not None and has_any(roles) and super().is_action_allowed(name)

    def _get_list_filter_args(self):
        """Filters from the query string, each value checked against what both databases accept (else 400).

        Flask-Admin drops a value its filter cannot parse with a flash message, but passes on values the
        database then refuses (an integer past 64 bits is an OverflowError on SQLite): a 500, and a CSV export
        cut off mid-stream. Here every value is parsed and bounded before any query runs.
        """
        if not self._filters:
            return None
        for arg, value in request.args.items(multi=True):
            if not arg.startswith("flt") or "_" not in arg:
                continue
            key = arg[3:].split("_", 1)[1]
            if key not in self._filter_args:
                continue
            flt = self._filter_args[key][1]
            if not flt.validate(value) or not _within_bounds(flt.clean(value)):
                abort(400, _("The filter \u201c%(name)s\u201d does not accept this value.", name=flt.name))
        return super()._get_list_filter_args()

    def get_one(self, id):
        # get_one uses session.get, which bypasses get_query: keep row-level limits in one place.
        try:
            key = int(id)
        except (TypeError, ValueError):
            return None
        return self.get_query().filter(self.model.id == key).one_or_none()

    # ---- Lists that stay fast at millions of rows (issue 7) -------------------------------------------------
    #
    # Stock Flask-Admin runs an exact COUNT(*) and an OFFSET query for every page. At a million rows the count
    # alone costs 20-60 ms and an OFFSET into the middle or the end of the table walks half a million rows.
    # Here:
    #   * counts: unfiltered lists show an estimate (estimate_rows), searched/filtered lists count at most
    #     count_cap + 1 rows; the page says which ("≈ 1,000,000", "10,000+").
    #   * Next/Previous links carry the id of the last/first row shown (`after=`/`before=`: keyset pagination),
    #     so every page is an index seek however deep. The cursor is a row id, never a sorted value, so a sort
    #     by name puts no name in the URL.
    #   * page=-1 is the last page, page=-k the k-th from the end: the ORDER BY is reversed and the rows flipped
    #     back, so the last page is as cheap as the first. Page numbers past the middle of an exactly counted
    #     list are read the same way; with an estimated size a typed page number uses OFFSET (slow but exact).
    # Keyset and reversal need an ORDER BY we control: the view's own, non-nullable columns plus the primary
    # key as a tie-breaker. Other sorts (joined or nullable columns) fall back to OFFSET pages.

    _CURSOR_ARGS = ("after", "before")

    # ---- Search terms out of URLs (issue 13) ----------------------------------------------------------------

    def _session_key(self):
        return sessions.current_key(session.get("sid"))

    def _search_token(self, term):
        if len(term) > list_reads.MAX_TERM:
            abort(400, _("The search is too long."))
        return list_reads.remember_search(term, self._session_key())

    @expose("/search/", methods=("POST",))
    def search_view(self):
        """The list's search box posts here; the list is then shown at a URL holding only an opaque token."""
        args = {k: v for k, v in request.form.items() if k.startswith("flt") or k in ("sort", "desc", "page_size")}
        term = (request.form.get("search") or "").strip()
        if term:
            args["search"] = self._search_token(term)
        return redirect(self.get_url(".index_view", **args))

    def current_search_token(self, term):
        """The token that stands for `term` in links and forms of this page."""
        token = g.get("_backoffice_search_token")
        if token is None or g.get("_backoffice_search_term") != term:
            token = list_reads.remember_search(term, self._session_key())
            g._backoffice_search_token, g._backoffice_search_term = token, term
        return token

    def _get_list_url(self, view_args):
        if view_args.search and not list_reads.is_token(view_args.search):
            view_args = view_args.clone(search=self.current_search_token(view_args.search))
        return super()._get_list_url(view_args)

    def _get_list_extra_args(self):
        view_args = super()._get_list_extra_args()
        if view_args.search and list_reads.is_token(view_args.search):
            token = view_args.search
            term = list_reads.term_of(token, self._session_key())
            if term is None:
                flash(_("That search has expired: search again."), "info")
            g._backoffice_search_token, g._backoffice_search_term = token, term
            view_args.search = term
        # Cursors belong to one page only: sort links, the search form and page-size links must not keep them.
        for name in self._CURSOR_ARGS:
            view_args.extra_args.pop(name, None)
        return view_args

    def _count_estimate_allowed(self):
        # A subclass that limits rows in get_query/get_count_query must get counts of what it shows.
        return (type(self).get_query is ModelView.get_query
                and type(self).get_count_query is ModelView.get_count_query)

    def _list_count(self, query, narrowed):
        if not narrowed and self._count_estimate_allowed():
            estimate = estimate_rows(db.session, self.model)
            if estimate is not None and estimate > self.count_cap:
                return ListCount(estimate, "estimated")
        pk = self._primary_key_column()
        limited = query.with_entities(pk).order_by(None).limit(self.count_cap + 1).subquery()
        found = db.session.execute(select(func.count()).select_from(limited)).scalar()
        if found > self.count_cap:
            return ListCount(self.count_cap, "capped")
        return ListCount(found, "exact")

    def _primary_key_column(self):
        return list(self.model.__table__.primary_key.columns)[0]

    def _own_column(self, field):
        columns = getattr(getattr(field, "property", None), "columns", None)
        column = columns[0] if columns else field
        if isinstance(column, Column) and column.table is self.model.__table__:
            return column
        return None

    def search_order(self, search):
        """Columns to order search results by when staff chose no sort (None: the view's default order).

        A view whose search is an index range (e.g. a name prefix) returns that index's column here, so the
        database reads the first rows of the range instead of sorting every match.
        """
        return None

    def _list_order(self, sort_column, sort_desc, search=None):
        """[(column, descending)] ending with the primary key, or None when the sort is not ours to control."""
        hinted = self.search_order(search) if search and sort_column is None else None
        if hinted:
            wanted = [(field, False) for field in hinted]
        elif sort_column is not None and sort_column in self._sortable_columns:
            if any(self._sortable_joins.get(sort_column) or []):
                return None
            fields = self._sortable_columns[sort_column]
            wanted = [(f, bool(sort_desc)) for f in (fields if isinstance(fields, list) else [fields])]
        else:
            wanted = []
            for field, joins, descending in self._get_default_order():
                if joins:
                    return None
                wanted.append((field, bool(descending)))
        order = []
        for field, descending in wanted:
            column = self._own_column(field)
            if column is None:
                return None
            order.append((column, descending))
        pk = self._primary_key_column()
        if not order or order[-1][0] is not pk:
            order.append((pk, order[-1][1] if order else False))
        return order

    @staticmethod
    def _order_clauses(order, reverse=False):
        return [column.desc() if descending != reverse else column.asc() for column, descending in order]

    def _after(self, order, boundary_id, reverse=False):
        """Rows strictly after (reverse: before) the boundary row in the list's order, or None if not keyset-able."""
        pk = self._primary_key_column()
        if len(order) == 1:
            descending = order[0][1] != reverse
            return pk < boundary_id if descending else pk > boundary_id
        if len(order) != 2 or order[0][0].nullable:
            return None
        column, descending = order[0][0], order[0][1] != reverse
        value = db.session.execute(select(column).where(pk == boundary_id)).scalar()
        if value is None:
            return None
        if descending:
            return and_(column <= value, or_(column < value, pk < boundary_id))
        return and_(column >= value, or_(column > value, pk > boundary_id))

    def _keyset_capable(self, order):
        return order is not None and (len(order) == 1 or (len(order) == 2 and not order[0][0].nullable))

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        if not execute or not has_request_context():
            return super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        # Typed URLs may carry any integer; the databases take 64-bit offsets and ids only.
        page = max(-_MAX_PAGE, min(page or 0, _MAX_PAGE))
        page_size = page_size or self.page_size
        query = self.get_query()
        joins = {}
        if self._search_supported and search:
            query, _unused, joins, _unused = self._apply_search(query, None, joins, {}, search)
        if filters and self._filters:
            query, _unused, joins, _unused = self._apply_filters(query, None, joins, {}, filters)
        count = self._list_count(query, narrowed=bool(search or filters))
        for join in self._auto_joins:
            query = query.options(joinedload(join))

        order = self._list_order(sort_column, sort_desc, search)
        nav = {"page": page, "keyset": self._keyset_capable(order), "count": count}
        if order is None:
            query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
            rows = query.offset(max(page, 0) * page_size).limit(page_size + 1).all()
            nav.update(has_prev=page > 0, has_next=len(rows) > page_size)
            return self._remember(nav, rows[:page_size], count)

        after = _cursor_arg("after") if nav["keyset"] else None
        before = _cursor_arg("before") if nav["keyset"] else None
        condition = None
        if after is not None or before is not None:
            condition = self._after(order, after if after is not None else before, reverse=after is None)
        if condition is not None and after is not None:
            rows = query.filter(condition).order_by(*self._order_clauses(order)).limit(page_size + 1).all()
            nav.update(page=None, has_prev=True, has_next=len(rows) > page_size)
            return self._remember(nav, rows[:page_size], count)
        if condition is not None:
            rows = query.filter(condition).order_by(*self._order_clauses(order, reverse=True)) \
                .limit(page_size + 1).all()
            nav.update(page=None, has_prev=len(rows) > page_size, has_next=True)
            return self._remember(nav, rows[:page_size][::-1], count)

        # Reading a numbered page from the end needs the exact size: with an estimate it would shift the rows.
        if page >= 0 and not (count.kind == "exact" and page * page_size > count / 2):
            rows = query.order_by(*self._order_clauses(order)).offset(page * page_size).limit(page_size + 1).all()
            nav.update(has_prev=page > 0, has_next=len(rows) > page_size)
            return self._remember(nav, rows[:page_size], count)
        # From the end: page -k, or a page number past the middle of a list of known size.
        if page < 0:
            from_end, length = (-page - 1) * page_size, page_size
        else:
            from_end, length = int(count) - (page + 1) * page_size, page_size
            if from_end < 0:
                from_end, length = 0, page_size + from_end
        if length <= 0:
            nav.update(has_prev=True, has_next=False)
            return self._remember(nav, [], count)
        rows = query.order_by(*self._order_clauses(order, reverse=True)).offset(from_end).limit(length + 1).all()
        nav.update(has_prev=len(rows) > length, has_next=from_end > 0)
        return self._remember(nav, rows[:length][::-1], count)

    def _remember(self, nav, rows, count):
        nav["first_id"] = rows[0].id if rows else None
        nav["last_id"] = rows[-1].id if rows else None
        g._backoffice_list_nav = nav
        if self.model in AUDITED_LISTS:
            list_reads.record_list_read(AUDITED_LISTS[self.model], [row.id for row in rows],
                                        searched=bool(request.args.get("search")),
                                        filtered=any(k.startswith("flt") for k in request.args),
                                        page_kind="cursor" if nav.get("page") is None else "number",
                                        search=self.list_read_search())
        return count, rows

    def list_read_search(self):
        """Audit details of a search this page answers on its POST (None: the search, if any, is in the URL)."""
        return None

    def _get_filter_groups(self):
        # Flask-Admin translates every filter's name, operation and options again on each list page (a few ms with
        # ten filters); they are fixed once the view is built, so the translation is kept per language.
        key = (id(self._filter_groups), str(get_locale()))
        cache = self.__dict__.setdefault("_filter_groups_by_language", {})
        if key not in cache:
            cache[key] = super()._get_filter_groups()
        return cache[key]

    def list_navigation(self):
        """Links and the count sentence for the list template's pager (First, Previous, Next, Last)."""
        nav = g.get("_backoffice_list_nav")
        if nav is None:
            return None
        view_args = self._get_list_extra_args()

        def url(page=None, **cursor):
            args = view_args.clone(page=page, extra_args={**view_args.extra_args, **cursor})
            return self._get_list_url(args)

        page = nav["page"]
        prev_url = next_url = None
        if nav["has_prev"]:
            if nav["keyset"] and nav["first_id"] is not None:
                prev_url = url(before=nav["first_id"])
            elif page is not None:
                prev_url = url(page=page - 1)
        if nav["has_next"]:
            if nav["keyset"] and nav["last_id"] is not None:
                next_url = url(after=nav["last_id"])
            elif page is not None and page != -1:
                next_url = url(page=page + 1)
        count = nav["count"]
        if count.kind == "estimated":
            summary = _("About %(count)s rows (an estimate: exact counts of large lists are not computed).",
                        count=format_number(int(count)))
        elif count.kind == "capped":
            summary = _("More than %(count)s rows: search or filter to narrow the list.",
                        count=format_number(int(count)))
        else:
            summary = ngettext("%(count)s row", "%(count)s rows", int(count), count=format_number(int(count)))
        return {"first": url() if nav["has_prev"] else None, "prev": prev_url, "next": next_url,
                "last": url(page=-1) if nav["has_next"] else None, "summary": summary}
