"""Flask-Admin, built per app inside the factory (a module-level Admin breaks the second create_app)."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from ..config import PROJECT_ROOT
from ..extensions import db
from ..models import (AuditEvent, Client, DeadlineRule, IntegrationToken, MarketingOptOut, PrivacyRequest,
                      StaffUser)
from ..services import consents
from . import formatting
from .audit import AuditEventView
from .clients import ClientView
from .deadlines import DeadlineRuleView
from .home import HomeView
from .jobs import CertificateView, ExportPackageView, JobsView
from .letters import LettersView, LetterTemplatesView
from .letters import register as register_mail_globals
from .mail import MailView
from .integrations import IntegrationTokenView
from .optouts import MarketingOptOutView
from .requests import PrivacyRequestView
from .staff import StaffUserView
from .statistics import StatisticsView
from .translations import let_project_catalogs_win


def init_admin(app):
    # Admin(translations_path=...) would put our catalogs BEFORE Flask-Admin's bundled ones, which then win.
    let_project_catalogs_win(PROJECT_ROOT / "backoffice" / "translations")
    admin = Admin(
        app,
        name=_l("Bek Air privacy"),
        index_view=HomeView(name=_l("Home"), url="/admin", endpoint="admin"),
        theme=Bootstrap4Theme(base_template="admin/backoffice_base.html", fluid=True),
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
    app.jinja_env.globals["consent_overview"] = consents.overview
    formatting.register(app)
    register_mail_globals(app)
    app.extensions["backoffice_admin"] = admin
    return admin
