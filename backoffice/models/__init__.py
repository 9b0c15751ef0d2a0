"""All models, one module per concept; importing this registers every table on db.metadata."""
from .audit import AuditChainHead, AuditEvent
from .clients import Agency, Client, ClientAccount
from .consent import Consent
from .deadlines import DeadlineRule
from .breaches import BreachAffectedClient, BreachIncident, BreachStep
from .disclosures import DisclosureGrant, DisclosureLog
from .jobs import ExportPackage, JobRecord
from .integrations import IntegrationToken
from .mail import DownloadLink, InboundMail, Letter, LetterTemplate, MailAttachment
from .optouts import MarketingOptOut, OptOutImport
from .records import Booking, Communication
from .requests import PrivacyRequest, RequestEvent
from .notices import ComplianceSetting, ConsentIntakeEvent, NoticeVersion
from .retention import RetentionRule
from .security import LoginThrottle, RecoveryCode, RoleGrant, SearchToken, StaffSession
from .retention_runs import RetentionRun
from .staff import StaffUser
from .systems import DataSystem, SystemTask
from . import text_search  # noqa: F401  (PostgreSQL: trigram indexes for the erasure's own check)

__all__ = [
    "Agency", "AuditChainHead", "AuditEvent", "Booking", "BreachAffectedClient", "BreachIncident", "BreachStep",
    "Client", "ClientAccount", "Communication", "ComplianceSetting", "Consent", "ConsentIntakeEvent", "DataSystem",
    "DeadlineRule", "DisclosureGrant", "DisclosureLog", "DownloadLink", "ExportPackage", "InboundMail",
    "IntegrationToken", "JobRecord", "Letter", "LetterTemplate", "LoginThrottle", "MailAttachment",
    "MarketingOptOut", "NoticeVersion", "OptOutImport", "PrivacyRequest", "RecoveryCode", "RequestEvent", "RetentionRule",
    "RetentionRun", "RoleGrant", "SearchToken", "StaffSession", "StaffUser", "SystemTask",
]
