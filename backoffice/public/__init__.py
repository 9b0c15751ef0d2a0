"""Public pages for clients (no staff login): the export download page (policy 5.4)."""
from flask import Blueprint, abort, render_template, request, send_file, session
from flask_babel import gettext as _
from flask_babel import refresh

from ..services import download_links

bp = Blueprint("download", __name__, url_prefix="/download")

LANGUAGES = ("kk", "ru", "en")


@bp.after_request
def _no_cache(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token never leaks to another site
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _page(token, status, attempts_left=None, code=200):
    messages = {
        download_links.WRONG: _("The code is not right. Attempts left: %(n)s.", n=attempts_left),
        download_links.LOCKED: _("This link is locked after too many wrong codes. Write to us and we will send "
                                 "a new one."),
        download_links.EXPIRED: _("This link has expired. Write to us and we will prepare your data again."),
        download_links.UNKNOWN: _("This link is not valid."),
    }
    return render_template("public/download.html", token=token, status=status, message=messages.get(status),
                           languages=LANGUAGES), code


@bp.route("/<token>", methods=["GET", "POST"])
def page(token):
    """Ask for the one-time code; the right code sends the package (audited), wrong ones count toward the lock."""
    language = request.args.get("lang")
    if language in LANGUAGES:
        session["language"] = language
        refresh()  # the locale may already have been chosen for this request
    if request.method == "GET":
        status = download_links.state(download_links.find(token))
        return _page(token, status, code=404 if status == download_links.UNKNOWN else 200)
    attempt = download_links.try_code(token, request.form.get("code"))
    if attempt.status != download_links.OK:
        return _page(token, attempt.status, attempt.attempts_left,
                     code=404 if attempt.status == download_links.UNKNOWN else 200)
    package = attempt.package
    if package is None:
        abort(404)
    return send_file(package.path, mimetype="application/zip", as_attachment=True, max_age=0,
                     download_name=f"bekair-personal-data-{package.created_at:%Y-%m-%d}.zip")
