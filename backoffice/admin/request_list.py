"""The request list's quick tabs and its search box (issue 14), as a mixin of PrivacyRequestView.

Tabs are GET links (`?tab=overdue`: no personal data). The search term is POSTed and the matching page is rendered
in the answer to that POST, so a phone number or an IIN never appears in a URL, a browser history or an access log.
"""
from flask import flash, g, has_request_context, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..services import queues, request_search
from .base import SecureForm

TAB_LABELS = {
    "open": _l("Open"), "mine": _l("Mine"), "overdue": _l("Overdue"), "approval": _l("Awaiting approval"),
    "done": _l("Done"), "due_today": _l("Due today"), "due_week": _l("Due this week"),
    "unassigned": _l("Unassigned"),
}
LISTING_ENDPOINTS = ("index_view", "search_view", "export_csv_view")


class RequestSearchForm(SecureForm):
    term = StringField(_l("Find a request"), validators=[DataRequired(), Length(max=254)],
                       description=_l("Request number, or the client's e-mail, phone, IIN or PNR"))


def client_name(view, context, model, name):
    """The client's name, or 'unmatched' (the list loads clients with the page: no query per row)."""
    if model.client is None:
        return Markup('<span class="text-muted-strong">{}</span>').format(_("unmatched"))
    return escape(model.client.full_name or f"#{model.client_id}")


def assignee_name(view, context, model, name):
    return escape(str(model.assigned_to)) if model.assigned_to else "—"


class RequestListMixin:
    """Adds `?tab=` and the POSTed search to a ModelView of PrivacyRequest."""

    def current_tab(self):
        if not has_request_context():
            return None
        tab = request.args.get("tab")
        return tab if tab in queues.ALL_TABS else None

    def search_term(self):
        return g.get("_request_search_term") if has_request_context() else None

    def _listing(self):
        return has_request_context() and request.endpoint in {f"{self.endpoint}.{e}" for e in LISTING_ENDPOINTS}

    def get_query(self):
        return self._narrow(super().get_query())

    def get_count_query(self):
        return self._narrow(super().get_count_query())

    def _narrow(self, query):
        if not self._listing():
            return query
        tab = self.current_tab()
        if tab is not None:
            query = query.filter(queues.tab_condition(tab, current_user))
        term = self.search_term()
        if term:
            condition = request_search.search_condition(term)
            if condition is not None:
                query = query.filter(condition)
        return query

    def list_tabs(self):
        """[(key, label, url, active?)] for the list's quick tabs."""
        active = self.current_tab()
        tabs = [(None, _("All"), self.get_url(".index_view"), active is None and not self.search_term())]
        shown = list(queues.TABS) + ([active] if active and active not in queues.TABS else [])
        tabs += [(key, TAB_LABELS[key], self.get_url(".index_view", tab=key), key == active) for key in shown]
        return tabs

    def search_form(self):
        form = RequestSearchForm(formdata=None)
        form.term.data = self.search_term() or ""
        return form

    @expose("/search/", methods=("POST",))
    def search_view(self):
        """The list narrowed to what staff typed, answered on the POST itself (the term stays out of URLs)."""
        form = RequestSearchForm()
        if not form.validate():
            flash(_("Type a request number, or the client's e-mail, phone, IIN or PNR."), "error")
            return redirect(self.get_url(".index_view"))
        g._request_search_term = form.term.data.strip()
        return self.index_view()  # its list-read audit event records the search (list_read_search)

    def list_read_search(self):
        term = self.search_term()
        return request_search.audit_details(term) if term else None
