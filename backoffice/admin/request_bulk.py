"""Approve or reject a page of requests in one action (issue 14), with a real confirmation step on the server.

The list's action shows what would happen to each selected request (who may decide it, and why not) and asks for
the one comment or reason; only the confirmation's POST decides, through `bulk.decide_each` (per-request rules).
"""
from flask import abort, flash, redirect
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..permissions import APPROVE, has_any
from ..services import bulk
from ..services.lifecycle import InvalidInput
from .base import SecureForm

BULK_TITLES = {"approve": _l("Approve the selected requests"), "reject": _l("Reject the selected requests")}


class BulkDecisionForm(SecureForm):
    ids = HiddenField()
    step = HiddenField()
    comment = TextAreaField(_l("Comment or reason (one for all)"), validators=[DataRequired(), Length(max=2000)])


class BulkDecisionMixin:
    """Flask-Admin actions `approve_selected` and `reject_selected` for PrivacyRequestView (managers only)."""

    @action("approve_selected", _l("Approve selected…"))
    def action_approve_selected(self, ids):
        return self._confirm_bulk("approve", ids)

    @action("reject_selected", _l("Reject selected…"))
    def action_reject_selected(self, ids):
        return self._confirm_bulk("reject", ids)

    def _confirm_bulk(self, step, ids, form=None, status=200):
        rows = self._selected(ids)
        if rows is None:
            flash(_("Select at least one request."), "error")
            return redirect(self.get_url(".index_view"))
        if form is None:
            form = BulkDecisionForm(formdata=None)
            form.ids.data = ",".join(str(r.id) for r in rows)
            form.step.data = step
        user = current_user._get_current_object()
        return self.render("admin/request_bulk_confirm.html", form=form, step=step, title=BULK_TITLES[step],
                           preview=bulk.preview(rows, step, user),
                           return_url=self.get_url(".index_view")), status

    @expose("/bulk/", methods=("POST",))
    def bulk_decide_view(self):
        """The confirmed bulk decision: each request approved/rejected on its own; a summary of what happened."""
        if not has_any(APPROVE):
            abort(403)
        form = BulkDecisionForm()
        step = form.step.data if form.step.data in bulk.BULK_STEPS else None
        ids = (form.ids.data or "").split(",")
        if step is None or self._selected(ids) is None:
            flash(_("Select at least one request."), "error")
            return redirect(self.get_url(".index_view"))
        if not form.validate():
            flash(_("Please correct the highlighted fields. Nothing was saved."), "error")
            return self._confirm_bulk(step, ids, form=form, status=400)
        try:
            outcomes = bulk.decide_each(self._selected(ids), step, current_user._get_current_object(),
                                        form.comment.data)
        except InvalidInput as error:
            flash(str(error), "error")
            return self._confirm_bulk(step, ids, form=form, status=400)
        done = [o for o in outcomes if o.done]
        message = (ngettext("%(num)s request approved.", "%(num)s requests approved.", len(done))
                   if step == "approve" else
                   ngettext("%(num)s request rejected.", "%(num)s requests rejected.", len(done)))
        flash(message, "success" if len(done) == len(outcomes) else "warning")
        return self.render("admin/request_bulk_result.html", step=step, title=BULK_TITLES[step], outcomes=outcomes,
                           return_url=self.get_url(".index_view"))
