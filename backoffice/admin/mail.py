"""The e-mail channel for support (policy 5.3): triage queue, stored messages (audited reads), .eml upload."""
import re

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..models.requests import REQUEST_TYPES
from ..permissions import MAIL_HANDLE
from ..services import mail_intake
from ..services.lifecycle import WorkflowError
from .base import ProtectedView
from ..labels import REQUEST_TYPES as TYPE_LABELS

REASON_LABELS = {
    "no_intent": _l("no request found in the text"),
    "ambiguous": _l("several kinds of request at once"),
    "request_in_quoted_text": _l("the request is only in quoted text of a reply"),
    "needs_details": _l("a request, but details are missing (e.g. the new values)"),
    "auto_reply": _l("automatic reply"), "bulk": _l("bulk mail"), "bounce": _l("delivery failure report"),
    "own_letter": _l("our own letter"), "marker_phrase": _l("the 5.3 marker phrase"),
    "wording": _l("the usual wording of a request"), "forwarded_marker_phrase": _l("marker phrase in a forward"),
    "forwarded_wording": _l("request wording in a forward"),
}
MAX_EML_BYTES = 30 * 1024 * 1024


def _safe_filename(name):
    cleaned = re.sub(r"[^\w.\-]+", "_", name or "attachment", flags=re.UNICODE).strip("._") or "attachment"
    return cleaned[:100]


class MailView(ProtectedView):
    """Messages that need a person: the triage queue; any stored message for staff who handle requests."""

    roles_read = MAIL_HANDLE
    roles_write = MAIL_HANDLE

    @expose("/")
    def index(self):
        return self.render("admin/mail/triage.html", mails=mail_intake.open_triage(), reasons=REASON_LABELS,
                           types=REQUEST_TYPES, type_labels=TYPE_LABELS)

    @expose("/<int:mail_id>")
    def message_view(self, mail_id):
        mail = mail_intake.read_mail(mail_id, current_user)
        if mail is None:
            abort(404)
        return self.render("admin/mail/message.html", mail=mail, reasons=REASON_LABELS, types=REQUEST_TYPES,
                           type_labels=TYPE_LABELS)

    @expose("/<int:mail_id>/attachment/<int:attachment_id>")
    def attachment_view(self, mail_id, attachment_id):
        attachment = mail_intake.read_attachment(mail_id, attachment_id, current_user)
        if attachment is None:
            abort(404)
        # Always a download, never rendered by the browser (HTML or scripts in mail stay inert).
        return Response(attachment.content, mimetype="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{_safe_filename(attachment.filename)}"',
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"})

    @expose("/<int:mail_id>/triage", methods=["POST"])
    def triage_view(self, mail_id):
        choice = request.form.get("type", "")
        request_type = None if choice == "dismiss" else choice
        if request_type is not None and request_type not in REQUEST_TYPES:
            flash(_("Choose the kind of request, or dismiss the message."), "error")
            return redirect(url_for(".index"))
        try:
            req = mail_intake.resolve_triage(mail_id, request_type, current_user)
        except WorkflowError as exc:
            flash(str(exc.message), "error")
            return redirect(url_for(".index"))
        if req is None:
            flash(_("The message was dismissed: no request."), "success")
            return redirect(url_for(".index"))
        flash(_("Request #%(id)s was created from the message.", id=req.id), "success")
        return redirect(url_for("requests.details_view", id=req.id))

    @expose("/upload", methods=["GET", "POST"])
    def upload_view(self):
        if request.method == "POST":
            upload = request.files.get("eml")
            raw = upload.read(MAX_EML_BYTES + 1) if upload else b""
            if not raw:
                flash(_("Choose a saved e-mail (.eml) file."), "error")
            elif len(raw) > MAX_EML_BYTES:
                flash(_("The uploaded file is larger than allowed."), "error")
            else:
                result = mail_intake.receive(raw, source="upload")
                flash(_("Message read: %(outcome)s.", outcome=OUTCOME_LABELS.get(result.outcome, result.outcome)),
                      "success" if result.outcome != mail_intake.DUPLICATE else "info")
                if result.request_id:
                    return redirect(url_for("requests.details_view", id=result.request_id))
                if result.mail_id:
                    return redirect(url_for(".message_view", mail_id=result.mail_id))
        return self.render("admin/mail/upload.html")


OUTCOME_LABELS = {
    "created": _l("a request was created"), "duplicate": _l("already received before (nothing new)"),
    "triage": _l("put in the triage queue"), "ignored": _l("not a request (automatic mail)"),
}
