"""Flask-Admin, built per app inside the factory (a module-level Admin breaks the second create_app)."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from ..config import PROJECT_ROOT
from ..extensions import db
from ..http_security import csp_nonce
from ..models import (AuditEvent, Client, DataSystem, DeadlineRule, IntegrationToken, MarketingOptOut,
                      NoticeVersion, PrivacyRequest, RetentionRule, StaffUser)
from ..services import consents, fanout, optout_import_runs
from . import formatting
from .audit import AuditEventView
from .breaches import BreachReportView, BreachView
from .clients import ClientView
from .deadlines import DeadlineRuleView
from .disclosures import DisclosureRegisterView
from .home import HomeView
from .jobs import CertificateView, ExportPackageView, JobsView
from .letters import LettersView, LetterTemplatesView
from .letters import register as register_mail_globals
from .mail import MailView
from .notices import CHANNEL_LABELS, ConsentRecordView, NoticeVersionView, may_record_consent
from .integrations import IntegrationTokenView
from .optouts import MarketingOptOutView
from .register import ProcessingRegisterView
from .requests import PrivacyRequestView
from .retention import DormantAccountsView, RetentionRuleView, RetentionRunsView
from .staff import StaffUserView, role_label
from .statistics import StatisticsView
from .systems import TASK_STATUS_LABELS, DataSystemView, SystemTaskView, task_forms
from .translations import let_project_catalogs_win


def add_compliance_views(admin):
    """Issue 15: the breach register, disclosures, retention, notices and the processing register."""
    admin.add_view(BreachView(name=_l("Breach register"), endpoint="breaches", category=_l("Compliance")))
    admin.add_view(BreachReportView(name=_l("Report a breach"), endpoint="breach_report", category=_l("Compliance")))
    admin.add_view(DisclosureRegisterView(name=_l("Disclosure register"), endpoint="disclosures",
                                          category=_l("Compliance")))
    admin.add_view(RetentionRuleView(RetentionRule, db, name=_l("Retention rules"), endpoint="retention",
                                     category=_l("Compliance")))
    admin.add_view(RetentionRunsView(name=_l("Retention runs"), endpoint="retention_runs", category=_l("Compliance")))
    admin.add_view(DormantAccountsView(name=_l("Dormant accounts"), endpoint="dormant", category=_l("Compliance")))
    admin.add_view(NoticeVersionView(NoticeVersion, db, name=_l("Notice versions"), endpoint="notices",
                                     category=_l("Compliance")))
    admin.add_view(ProcessingRegisterView(name=_l("Processing register"), endpoint="register",
                                          category=_l("Compliance")))
    admin.add_view(ConsentRecordView(name=_l("Record a consent"), endpoint="consent_record"))
    admin.app.jinja_env.globals["may_record_consent"] = may_record_consent
    admin.app.jinja_env.globals["consent_channel_labels"] = CHANNEL_LABELS


def init_admin(app):
    # Admin(translations_path=...) would put our catalogs BEFORE Flask-Admin's bundled ones, which then win.
    let_project_catalogs_win(PROJECT_ROOT / "backoffice" / "translations")
    admin = Admin(
        app,
        name=_l("Bek Air privacy"),
        index_view=HomeView(name=_l("Home"), url="/admin", endpoint="admin"),
        theme=Bootstrap4Theme(base_template="admin/backoffice_base.html", fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(PrivacyRequestView(PrivacyRequest, db, name=_l("Requests"), endpoint="requests"))
    admin.add_view(ClientView(Client, db, name=_l("Clients"), endpoint="clients"))
    admin.add_view(MarketingOptOutView(MarketingOptOut, db, name=_l("Marketing opt-outs"), endpoint="optouts"))
    admin.add_view(AuditEventView(AuditEvent, db, name=_l("Audit log"), endpoint="audit"))
    admin.add_view(StaffUserView(StaffUser, db, name=_l("Staff"), endpoint="staff"))
    admin.add_view(DeadlineRuleView(DeadlineRule, db, name=_l("Deadline rules"), endpoint="deadlines"))
    admin.add_view(JobsView(name=_l("Jobs"), endpoint="jobs"))
    admin.add_view(CertificateView(name=_l("Erasure certificates"), endpoint="certificates"))
    admin.add_view(ExportPackageView(name=_l("Export packages"), endpoint="exports"))
    admin.add_view(StatisticsView(name=_l("Statistics"), endpoint="statistics"))
    admin.add_view(IntegrationTokenView(IntegrationToken, db, name=_l("Integration tokens"), endpoint="integrations"))
    admin.add_view(MailView(name=_l("Mail triage"), endpoint="mail"))
    admin.add_view(LettersView(name=_l("Letters"), endpoint="letters"))
    admin.add_view(LetterTemplatesView(name=_l("Letter templates"), endpoint="letter_templates"))
    add_compliance_views(admin)
    admin.add_view(DataSystemView(DataSystem, db, name=_l("Systems (data map)"), endpoint="systems"))
    admin.add_view(SystemTaskView(name=_l("System tasks"), endpoint="systemtasks"))
    app.jinja_env.globals["consent_overview"] = consents.overview
    app.jinja_env.globals["system_tasks"] = fanout.tasks_of
    app.jinja_env.globals["system_task_forms"] = task_forms
    app.jinja_env.globals["system_task_labels"] = TASK_STATUS_LABELS
    app.jinja_env.globals["system_task_for_job"] = fanout.task_for_job
    app.jinja_env.globals["optout_import_for_job"] = optout_import_runs.for_job
    formatting.register(app)
    register_mail_globals(app)
    app.jinja_env.filters["role_label"] = role_label
    app.extensions["backoffice_admin"] = admin
    return admin
