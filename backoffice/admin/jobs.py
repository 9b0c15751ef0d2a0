"""Jobs, erasure certificates and export packages (policy 5.2–5.4): thin views over services.execution/export."""
from flask import Response, abort, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import select

from ..permissions import CERTIFICATES_READ, EXPORTS_DOWNLOAD, JOBS_READ, JOBS_RETRY, OPTOUTS_WRITE, has_any
from ..extensions import db
from ..models.jobs import FAILED, FINISHED, LOST, OPEN_JOB_STATUSES, ExportPackage, JobRecord
from ..models.requests import PrivacyRequest
from .. import labels
from ..services import documents, execution, export, fanout, jobqueue, live_status
from .base import ProtectedView


JOB_STATE_LABELS = labels.JOB_STATES


class JobsView(ProtectedView):
    """Queued, started and failed jobs with their request and error text; managers may retry."""

    roles_read = JOBS_READ
    roles_write = JOBS_RETRY

    @expose("/")
    def index(self):
        try:
            counts = jobqueue.registry_counts()
        except RedisError:
            counts = None
            flash(_("The job queue (Redis) cannot be reached; the list below comes from the database."), "error")
        status = request.args.get("status") or None
        kind = request.args.get("kind") or None
        records = execution.open_jobs()
        live = [r for r in records if r.status in OPEN_JOB_STATUSES]
        return self.render("admin/jobs/index.html", records=records, counts=counts,
                           may_retry=has_any(JOBS_RETRY), may_open_imports=has_any(OPTOUTS_WRITE),
                           state_labels=JOB_STATE_LABELS,
                           history=execution.finished_jobs(status=status, kind=kind), kinds=execution.job_kinds(),
                           history_statuses=(FINISHED, FAILED, LOST), chosen_status=status, chosen_kind=kind,
                           live_ids=",".join(r.id for r in live),
                           fingerprint=[[r.id, r.status] for r in live])

    @expose("/status.json")
    def status_json(self):
        """The state of the listed jobs (ids from the page), polled by static/live_status.js; ids and codes only."""
        ids = [i for i in (request.args.get("ids") or "").split(",") if i][:200]
        return jsonify(live_status.jobs_status(ids))

    @expose("/retry/<job_id>", methods=["POST"])
    def retry(self, job_id):
        if not has_any(JOBS_RETRY):
            abort(403)
        record = db.session.get(JobRecord, job_id[:64])
        if record is None or record.request_id is None:
            flash(_("There is no such job to retry."), "error")
            return redirect(url_for(".index"))
        if record.kind == "system":
            # One system of a request's fan-out: only that system is queued again (services.fanout).
            try:
                fanout.retry_job(record.id, current_user)
            except fanout.TaskError as exc:
                flash(str(exc), "error")
            else:
                flash(_("Request #%(id)s was queued again (job %(job)s).", id=record.request_id,
                        job=record.id[:12]), "success")
            return redirect(url_for(".index"))
        try:
            new_job = execution.retry_request(record.request_id, by=current_user)
        except execution.ExecutionError as exc:
            if exc.code == "not_retryable":
                # The lifecycle's own (translated) reason, e.g. the client is blocked (Law art. 1(3)).
                flash(str(exc), "error")
            else:
                flash(_("Request #%(id)s is not failed or waiting: there is nothing to retry.",
                        id=record.request_id), "error")
            return redirect(url_for(".index"))
        flash(_("Request #%(id)s was queued again (job %(job)s).", id=record.request_id, job=new_job), "success")
        return redirect(url_for(".index"))


class CertificateView(ProtectedView):
    """Erasure certificates: shown, downloaded (PDF or HTML, in a chosen language) and verified by managers and
    supervisors; every download and check audited (services/documents)."""

    roles_read = CERTIFICATES_READ

    @expose("/")
    def index(self):
        rows = db.session.execute(
            select(PrivacyRequest).where(PrivacyRequest.certificate.is_not(None))
            .order_by(PrivacyRequest.completed_at.desc()).limit(200)
        ).scalars().all()
        return self.render("admin/jobs/certificates.html", rows=rows)

    @expose("/<int:request_id>/")
    def show(self, request_id):
        privacy_request, certificate = documents.certificate_for(request_id)
        if certificate is None:
            flash(_("Request #%(id)s has no erasure certificate.", id=request_id), "error")
            return redirect(url_for(".index"))
        language = documents.pick_language(str(get_locale()))
        return self.render("admin/jobs/certificate.html", request_id=request_id, certificate=certificate,
                           staff=documents.staff_names(certificate), sha256=documents.certificate_sha256(certificate),
                           verify_url=url_for(".verify", _external=True), language=language,
                           languages=documents.languages(), pdf_available=documents.pdf_available(),
                           time=lambda value: documents.document_time(value, language))

    @expose("/<int:request_id>/download")
    def download(self, request_id):
        fmt = request.args.get("format", "html")
        fmt = fmt if fmt in documents.FORMATS else "html"
        language = documents.pick_language(request.args.get("lang"), default=str(get_locale()))
        if fmt == "pdf" and not documents.pdf_available():
            flash(_("PDF is not available on this server (system libraries missing); download the HTML and print it."),
                  "error")
            return redirect(url_for(".show", request_id=request_id))
        try:
            body, mimetype = documents.certificate_download(request_id, language, fmt,
                                                            url_for(".verify", _external=True))
        except documents.DocumentError:
            abort(404)
        return Response(body, mimetype=mimetype, headers={
            "Content-Disposition": f"attachment; filename=erasure-certificate-{request_id}-{language}.{fmt}"})

    @expose("/verify")
    def verify(self):
        request_id = request.args.get("request_id", type=int)
        sha256 = request.args.get("sha256", "")[:200]
        result = None
        if request_id is not None and 0 < request_id < 2 ** 31 and sha256:
            result = documents.verify_certificate(request_id, sha256)
        elif request.args:
            flash(_("Enter the request number and the SHA-256 printed on the certificate."), "error")
        return self.render("admin/jobs/certificate_verify.html", result=result, request_id=request_id,
                           sha256=sha256)


class ExportPackageView(ProtectedView):
    """Export packages (policy 5.4): download only by staff who handle requests; every download audited."""

    roles_read = EXPORTS_DOWNLOAD

    @expose("/")
    def index(self):
        rows = db.session.execute(
            select(ExportPackage).where(ExportPackage.deleted_at.is_(None))
            .order_by(ExportPackage.created_at.desc()).limit(200)
        ).scalars().all()
        return self.render("admin/jobs/exports.html", rows=rows)

    @expose("/<int:package_id>/download")
    def download(self, package_id):
        package = export.package_for_download(package_id)
        if package is None:
            flash(_("This export package does not exist or has expired."), "error")
            return redirect(url_for(".index"))
        export.record_download(package)
        return send_file(package.path, mimetype="application/zip", as_attachment=True,
                         download_name=f"personal-data-request-{package.request_id}.zip", max_age=0)

    @expose("/<int:package_id>/summary")
    def summary(self, package_id):
        fmt = request.args.get("format", "pdf")
        found = export.summary_download(package_id, fmt if fmt in export.SUMMARY_FILES else "pdf")
        if found is None:
            flash(_("This export package does not exist or has expired."), "error")
            return redirect(url_for(".index"))
        body, mimetype, request_id = found
        extension = "pdf" if mimetype == "application/pdf" else "html"
        return Response(body, mimetype=mimetype, headers={
            "Content-Disposition": f"attachment; filename=access-summary-{request_id}.{extension}"})
