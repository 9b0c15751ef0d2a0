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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..permissions import AUDIT_READ
from ..extensions import db
from ..models.audit import AuditEvent
from ..services import audit as audit_service
from ..services import lifecycle
from .base import RoleModelView
from .formatting import local_time_formatter

# The audit filter offers actions by name in the page's language (issue 14), not a code to type.
AUDIT_ACTION_LABELS = {
    "auth.login": _l("Sign-in"), "auth.login_failed": _l("Failed sign-in"), "auth.logout": _l("Sign-out"),
    "audit.export": _l("Audit log exported"), "audit.verify": _l("Audit chain checked"),
    "client.read_full_record": _l("Client record viewed"), "client.erase": _l("Client erased"),
    "consent.give": _l("Consent given"), "consent.withdraw": _l("Consent withdrawn"),
    "deadline_rule.update": _l("Deadline rule changed"), "export.download": _l("Export package downloaded"),
    "export.expired": _l("Export package expired"), "integration_token.create": _l("Integration token created"),
    "integration_token.revoke": _l("Integration token revoked"), "job.requeued": _l("Job queued again"),
    "optout.add": _l("Opt-out added"), "optout.remove": _l("Opt-out removed"), "optout.import": _l("Opt-outs imported"),
    "optout.export_hashes": _l("Opt-out hashes exported"), "optout.scrub": _l("Campaign list scrubbed"),
    "requests.export_csv": _l("Request list exported"), "requests.search": _l("Requests searched"),
    "staff.create": _l("Staff account created"), "staff.update": _l("Staff account changed"),
}


def audit_action_options():
    """[(code, label)] for the action filter: every request step (as 'Request: Approve'), then the others."""
    options = [(f"request.{code}", _l("Request: %(step)s", step=label))
               for code, label in lifecycle.ACTION_LABELS.items()]
    return options + sorted(AUDIT_ACTION_LABELS.items(), key=lambda item: item[0])


def _details_pretty(view, context, model, name):
    if not model.details:
        return ""
    try:
        text = json.dumps(json.loads(model.details), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        text = model.details
    return Markup("<pre class='mb-0'>%s</pre>") % escape(text)


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
    column_formatters = {"at": local_time_formatter,
                         "action": lambda v, c, m, n: _action_label(m.action)}
    column_formatters_detail = {"details": _details_pretty, "at": local_time_formatter,
                                "action": lambda v, c, m, n: _action_label(m.action)}
    # Equality and ranges only, each served by an index (see models/audit.py).
    column_filters = (
        IntEqualFilter(AuditEvent.actor_id, _l("Actor")),
        FilterEqual(AuditEvent.action, _l("Action"), options=audit_action_options),
        FilterEqual(AuditEvent.object_type, _l("Object")),
        FilterEqual(AuditEvent.object_id, _l("Object ID")),
        IntEqualFilter(AuditEvent.request_id, _l("Request")),
        FilterEqual(AuditEvent.outcome, _l("Outcome"),
                    options=[(o, o) for o in audit_service.OUTCOMES]),
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
        try:
            audit_service.record("audit.export", object_type="audit_log", details={"filters": filters})
        except audit_service.AuditDetailsError:
            # A filter value that looks like personal data is not copied into the log; its filter name is.
            audit_service.record("audit.export", object_type="audit_log", details={"filters": sorted(filters)})
        db.session.commit()
        chunks = audit_service.csv_chunks(audit_service.export_statement(conditions))
        return Response(stream_with_context(chunks), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=audit-log.csv",
                                 "Cache-Control": "no-store"})

    @expose("/verify/", methods=("POST",))
    def verify_view(self):
        """Run the same chain check as `flask audit-verify`, record that it ran, and show the result."""
        result = audit_service.verify()
        audit_service.record("audit.verify", object_type="audit_chain",
                             outcome="success" if result.ok else "failure", details=result.as_details())
        db.session.commit()
        if result.ok:
            flash(_("Audit chain intact: %(n)d events verified.", n=result.checked), "success")
        else:
            flash(_("Audit chain broken at position %(position)d (event ID %(event)s): %(reason)s. "
                    "%(n)d events before it verified.", position=result.position,
                    event=result.event_id if result.event_id is not None else "-",
                    reason=_reason_text(result.reason), n=result.checked), "error")
        return redirect(self.get_url(".index_view"))


def _reason_text(reason):
    texts = {
        "content_changed": _l("the event's stored hash does not match its content (the event was altered)"),
        "missing_link": _l("the event does not follow the previous one (events before it were removed or altered)"),
        "missing_tail": _l("the chain ends before its head (events at the end were removed)"),
        "head_mismatch": _l("the head does not point at the last event of the chain"),
    }
    return str(texts.get(reason, reason))


def _action_label(code):
    labels = dict(audit_action_options())
    return f"{labels[code]} ({code})" if code in labels else code
