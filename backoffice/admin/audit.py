"""The audit log, read-only, for supervisors (policy 4.3).

No create, edit or delete exists here (and the model and database refuse them anyway). Built for millions of
events: no free-text search (it would be an unindexable ILIKE scan), only equality and date-range filters on
indexed columns, and no COUNT(*) per page - the pager is "previous/next", and the total comes from the chain head.
"""
import json

from flask import Response, flash, redirect, request, stream_with_context
from flask_admin import expose
from flask_admin.contrib.sqla.filters import (DateTimeBetweenFilter, DateTimeGreaterFilter, DateTimeSmallerFilter,
                                              FilterEqual, IntEqualFilter)
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from .. import labels
from ..permissions import AUDIT_READ
from ..models.audit import AuditEvent
from ..services import audit as audit_service
from ..services import lifecycle
from .base import RoleModelView
from .formatting import local_time_formatter

def audit_action_options():
    """[(code, label)] for the action filter: every request step (as 'Request: Approve'), then the others."""
    options = [(f"request.{code}", _l("Request: %(step)s", step=label))
               for code, label in lifecycle.ACTION_LABELS.items()]
    others = [(code, label) for code, label in labels.AUDIT_ACTIONS.items() if not code.startswith("request.")]
    return options + sorted(others, key=lambda item: item[0])


def _details_pretty(view, context, model, name):
    if not model.details:
        return ""
    try:
        text = json.dumps(json.loads(model.details), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        text = model.details
    return Markup("<pre class='mb-0'>%s</pre>") % escape(text)



def _coded(code, kind):
    if code is None:
        return ""
    return Markup('<span title="{}">{}</span>').format(code, labels.label(code, kind))

class AuditEventView(RoleModelView):
    roles_read = AUDIT_READ
    roles_write = frozenset()
    list_template = "admin/audit_list.html"

    column_list = ("id", "at", "actor_id", "actor_roles", "action", "object_type", "object_id", "request_id",
                   "outcome", "ip")
    column_details_list = column_list + ("details", "prev_hash", "hash")
    column_labels = {
        "id": _l("ID"), "at": _l("Time (Almaty)"), "actor_id": _l("Actor"), "actor_roles": _l("Roles"),
        "action": _l("Action"), "object_type": _l("Object"), "object_id": _l("Object ID"),
        "request_id": _l("Request"), "outcome": _l("Outcome"), "ip": _l("IP address"), "details": _l("Details"),
        "prev_hash": _l("Previous hash"), "hash": _l("Hash"),
    }
    # The code stays in the title: the action and object filters take codes.
    column_formatters = {
        "action": lambda v, c, m, n: _coded(m.action, "audit_action"),
        "object_type": lambda v, c, m, n: _coded(m.object_type, "audit_object"),
        "outcome": lambda v, c, m, n: labels.label(m.outcome, "audit_outcome"),
        "actor_roles": lambda v, c, m, n: labels.label(m.actor_roles, "roles"),
    }
    column_formatters["at"] = local_time_formatter
    column_formatters_detail = dict(column_formatters, details=_details_pretty)
    # Equality and ranges only, each served by an index (see models/audit.py).
    column_filters = (
        IntEqualFilter(AuditEvent.actor_id, _l("Actor")),
        FilterEqual(AuditEvent.action, _l("Action"), options=audit_action_options),
        FilterEqual(AuditEvent.object_type, _l("Object")),
        FilterEqual(AuditEvent.object_id, _l("Object ID")),
        IntEqualFilter(AuditEvent.request_id, _l("Request")),
        FilterEqual(AuditEvent.outcome, _l("Outcome"),
                    options=labels.choices("audit_outcome", audit_service.OUTCOMES)),
        DateTimeBetweenFilter(AuditEvent.at, _l("Time (UTC)")),
        DateTimeGreaterFilter(AuditEvent.at, _l("Time (UTC)")),
        DateTimeSmallerFilter(AuditEvent.at, _l("Time (UTC)")),
    )
    column_searchable_list = ()
    column_default_sort = ("id", True)
    column_sortable_list = ("id",)
    simple_list_pager = True

    def chain_length(self):
        return audit_service.chain_length()

    def _filtered_conditions(self):
        """The WHERE conditions the list's current filters stand for (the export uses exactly these)."""
        filters = self._get_list_extra_args().filters
        query = self.get_query()
        if filters and self._filters:
            query, _count, _joins, _count_joins = self._apply_filters(query, None, {}, {}, filters)
        where = query.whereclause
        return [] if where is None else [where]

    @expose("/export.csv")
    def export_csv(self):
        """Stream the filtered log as CSV; the copy itself is audited (policy 4.3: protection against copying)."""
        conditions = self._filtered_conditions()
        filters = {k: v for k, v in request.args.items() if k.startswith("flt")}
        chunks = audit_service.start_export(conditions, filters)
        return Response(stream_with_context(chunks), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=audit-log.csv",
                                 "Cache-Control": "no-store"})

    @expose("/verify/", methods=("POST",))
    def verify_view(self):
        """Run the same chain check as `flask audit-verify`, record that it ran, and show the result."""
        result = audit_service.verify_and_record()
        checked = format_number(result.checked)
        if result.ok:
            flash(ngettext("Audit chain intact: %(count)s event verified.",
                           "Audit chain intact: %(count)s events verified.", result.checked, count=checked), "success")
        else:
            flash(ngettext("Audit chain broken at position %(position)s (event ID %(event)s): %(reason)s. "
                           "%(count)s event before it verified.",
                           "Audit chain broken at position %(position)s (event ID %(event)s): %(reason)s. "
                           "%(count)s events before it verified.", result.checked,
                           position=format_number(result.position),
                           event=result.event_id if result.event_id is not None else "-",
                           reason=labels.label(result.reason, "chain_fault"), count=checked), "error")
        return redirect(self.get_url(".index_view"))
