"""Printable documents: the erasure certificate (policy 5.2, 5.3) and the access summary (5.4), as PDF and HTML.

Both render from one template each, in the language chosen (the certificate: at download; the summary: the
client's), with times in the office's zone without microseconds and the legal references translated. The
certificate carries its own SHA-256 (over its canonical JSON, so the same in every language and format) and where
to check it: the Verify page (managers, supervisors) or `flask --app wsgi certificate-verify REQUEST_ID SHA256`.

PDFs come from WeasyPrint, which needs Pango and HarfBuzz from the system (README, `.ci/run`); on a machine
without them `pdf_available()` is False and the views offer HTML only.
"""
import datetime as dt
import functools
import hashlib
import hmac
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select

from ..config import PROJECT_ROOT
from ..extensions import db
from ..models.requests import PrivacyRequest
from ..models.staff import StaffUser
from . import audit
from .deadlines import local_datetime
from .transaction import user_action


@functools.cache
def _weasyprint():
    """WeasyPrint, imported on the first PDF (~25 MiB that a process serving no PDF never holds), or None.

    A system library (Pango) missing is an OSError at import: the app still runs, without PDFs."""
    try:
        import weasyprint
    except OSError:  # pragma: no cover - depends on the machine
        return None
    return weasyprint

DOCUMENT_CSS = PROJECT_ROOT / "static" / "document.css"
FORMATS = ("pdf", "html")
# One format per language: kk and ru write day.month.year, English the ISO order.
_TIME_FORMATS = {"kk": "%d.%m.%Y %H:%M:%S", "ru": "%d.%m.%Y %H:%M:%S", "en": "%Y-%m-%d %H:%M:%S"}


class DocumentError(Exception):
    pass


def pdf_available():
    return _weasyprint() is not None


def languages():
    return tuple(current_app.config["LANGUAGES"])


def pick_language(value, default="en"):
    """The requested language if the app offers it, else `default` (a hostile ?lang= never reaches Babel)."""
    offered = languages()
    if value in offered:
        return value
    return default if default in offered else offered[0]


def document_time(value, language):
    """A stored UTC time (datetime or ISO text) as local Almaty time, seconds precision, in the language's format."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return local_datetime(value).strftime(_TIME_FORMATS.get(language, _TIME_FORMATS["en"]))


def certificate_sha256(certificate):
    """SHA-256 of the certificate's canonical JSON: what the printed verification line shows."""
    canonical = json.dumps(certificate, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def certificate_for(request_id):
    """The request and its certificate, or (None, None)."""
    privacy_request = db.session.get(PrivacyRequest, request_id)
    if privacy_request is None or not privacy_request.certificate:
        return None, None
    return privacy_request, privacy_request.certificate


def staff_names(certificate):
    ids = [certificate.get("requested_by_staff_id"), certificate.get("approved_by_staff_id")]
    ids += [row.get("confirmed_by_staff_id") for row in certificate.get("systems", [])]
    rows = db.session.execute(select(StaffUser).where(StaffUser.id.in_([i for i in ids if i]))).scalars()
    return {user.id: str(user) for user in rows}


def stylesheet():
    """The printed documents' CSS, inlined into each document (the PDF and the HTML download look the same)."""
    return DOCUMENT_CSS.read_text(encoding="utf-8")


def render_certificate(privacy_request, language, verify_url):
    """The certificate as a standalone HTML document in `language`."""
    certificate = privacy_request.certificate
    with force_locale(language):
        return render_template("documents/certificate.html", request_id=privacy_request.id,
                               certificate=certificate, staff=staff_names(certificate), language=language,
                               sha256=certificate_sha256(certificate), verify_url=verify_url, css=stylesheet(),
                               time=lambda value: document_time(value, language))


def to_pdf(html):
    weasyprint = _weasyprint()
    if weasyprint is None:
        raise DocumentError("PDF rendering needs Pango/HarfBuzz (see README)")
    return weasyprint.HTML(string=html, base_url=str(PROJECT_ROOT)).write_pdf()


@user_action
def certificate_download(request_id, language, fmt, verify_url):
    """(bytes, mimetype) of the certificate in `fmt` and `language`; the download is audited (policy 4.3)."""
    privacy_request, certificate = certificate_for(request_id)
    if certificate is None:
        raise DocumentError("no certificate")
    html = render_certificate(privacy_request, language, verify_url)
    body, mimetype = (to_pdf(html), "application/pdf") if fmt == "pdf" else (html.encode("utf-8"), "text/html")
    audit.record("certificate.download", object_type="privacy_request", object_id=request_id, request_id=request_id,
                 details={"format": fmt, "language": language, "sha256": certificate_sha256(certificate)})
    return body, mimetype


@dataclass
class Verification:
    request_id: int
    found: bool  # the request has a certificate
    matches: bool
    outcome: str = ""
    request_type: str = ""
    finished_at: str = ""


def _clean_hash(value):
    value = (value or "").strip().lower()
    return value if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else None


@user_action
def verify_certificate(request_id, sha256):
    """Does `sha256` match the certificate stored for the request? Audited (ids and the answer only)."""
    privacy_request, certificate = certificate_for(request_id) if request_id else (None, None)
    given = _clean_hash(sha256)
    matches = bool(certificate is not None and given and hmac.compare_digest(certificate_sha256(certificate), given))
    audit.record("certificate.verify", object_type="privacy_request", object_id=request_id, request_id=request_id
                 if certificate is not None else None, outcome="success" if matches else "failure",
                 details={"found": certificate is not None})
    if certificate is None:
        return Verification(request_id, False, False)
    return Verification(request_id, True, matches, certificate.get("outcome", ""), certificate.get("request_type", ""),
                        certificate.get("finished_at") or "")


def summary_pdf(html):
    """The access summary's PDF (put beside summary.html in the export package), or None without WeasyPrint."""
    return to_pdf(html) if pdf_available() else None


def read_package_member(path, name):
    """One file out of an export package's ZIP (the summary), or None."""
    try:
        with zipfile.ZipFile(Path(path)) as archive:
            return archive.read(name)
    except (KeyError, OSError, zipfile.BadZipFile):
        return None
