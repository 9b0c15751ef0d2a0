"""Letters to clients (policy 5.2–5.4): the outbox for support (read audited, resend), templates for the admin."""
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import labels
from ..permissions import LETTER_TEMPLATES_ADMIN, MAIL_HANDLE, has_any
from ..services import download_links, letter_templates, letters, mail_intake
from .base import ProtectedView

STATUS_LABELS = {"pending": _l("waiting to be sent"), "sent": _l("sent"), "failed": _l("refused by the server"),
                 "erased": _l("not sent: client erased")}
TEMPLATE_LABELS = labels.LETTER_TEMPLATES
LANGUAGE_LABELS = labels.LANGUAGES


class LettersView(ProtectedView):
    """The outbox and sent letters: status, attempts, timeline; the text is a client's record (audited read)."""

    roles_read = MAIL_HANDLE
    roles_write = MAIL_HANDLE

    @expose("/")
    def index(self):
        rows = letters.recent()
        return self.render("admin/mail/letters.html", letters=rows, statuses=STATUS_LABELS,
                           templates=TEMPLATE_LABELS, languages=LANGUAGE_LABELS)

    @expose("/<int:letter_id>")
    def letter_view(self, letter_id):
        letter = letters.read_letter(letter_id, current_user)
        if letter is None:
            abort(404)
        return self.render("admin/mail/letter.html", letter=letter, recipient=letters.recipient(letter),
                           statuses=STATUS_LABELS, templates=TEMPLATE_LABELS, languages=LANGUAGE_LABELS)

    @expose("/<int:letter_id>/resend", methods=["POST"])
    def resend_view(self, letter_id):
        try:
            letter = letters.resend(letter_id, current_user)
        except letters.LetterError as exc:
            flash(str(exc.message), "error")
            return redirect(url_for(".index"))
        flash(_("The letter is in the outbox again (letter #%(id)s).", id=letter.id), "success")
        return redirect(url_for(".letter_view", letter_id=letter.id))


    @expose("/link/<int:link_id>/code", methods=["POST"])
    def phone_code_view(self, link_id):
        code = download_links.new_code_for_phone(link_id, current_user)
        if code is None:
            flash(_("This download link is locked or expired: produce a new export."), "error")
            return redirect(url_for(".index"))
        # Shown once, to read out to the caller after checking who they are; only its hash is kept.
        flash(_("New one-time code: %(code)s (the previous one no longer works).", code=code), "success")
        return redirect(url_for(".index"))


class LetterTemplatesView(ProtectedView):
    """The admin edits each letter in each language; a preview renders it with a made-up request."""

    roles_read = LETTER_TEMPLATES_ADMIN
    roles_write = LETTER_TEMPLATES_ADMIN

    @expose("/")
    def index(self):
        return self.render("admin/mail/templates.html", rows=letter_templates.rows(), templates=TEMPLATE_LABELS,
                           languages=LANGUAGE_LABELS)

    @expose("/<key>/<language>", methods=["GET", "POST"])
    def template_view(self, key, language):
        if key not in letter_templates.DEFAULTS or language not in letter_templates.LANGUAGES:
            abort(404)
        subject, body = letter_templates.source(key, language)
        preview = error = None
        if request.method == "POST":
            subject, body = request.form.get("subject", ""), request.form.get("body", "")
            try:
                if request.form.get("preview"):
                    preview = letter_templates.check(subject, body, language)
                else:
                    letter_templates.save(key, language, subject, body, current_user)
                    flash(_("The template was saved."), "success")
                    return redirect(url_for(".index"))
            except letter_templates.TemplateInvalid as exc:
                error = _("The template cannot be used, nothing was saved: %(error)s", error=str(exc))
        else:
            preview = letter_templates.check(subject, body, language)
        return self.render("admin/mail/template_edit.html", key=key, language=language, subject=subject, body=body,
                           preview=preview, error=error, templates=TEMPLATE_LABELS, languages=LANGUAGE_LABELS,
                           variables=sorted(letter_templates.DEMO_CONTEXT))


def request_mail_records(request_id):
    """What the request page lists of its e-mail (ids, dates, statuses only; the content opens audited)."""
    return {"messages": mail_intake.mails_of(request_id), "letters": letters.letters_of(request_id),
            "links": download_links.links_of(request_id), "template_labels": TEMPLATE_LABELS,
            "status_labels": STATUS_LABELS, "language_labels": labels.LANGUAGES, "may_handle": has_any(MAIL_HANDLE)}


def register(app):
    app.jinja_env.globals["request_mail_records"] = request_mail_records
