"""All models, one module per concept; importing this registers every table on db.metadata."""
from .audit import AuditChainHead, AuditEvent
from .clients import Agency, Client, ClientAccount
from .consent import Consent
from .deadlines import DeadlineRule
from .breaches import BreachAffectedClient, BreachIncident, BreachStep
from .disclosures import DisclosureGrant, DisclosureLog
from .jobs import ExportPackage, JobRecord
from .integrations import IntegrationToken
from .optouts import MarketingOptOut
from .records import Booking, Communication
from .requests import PrivacyRequest, RequestEvent
from .notices import ComplianceSetting, ConsentIntakeEvent, NoticeVersion
from .retention import RetentionRule
from .retention_runs import RetentionRun
from .staff import StaffUser

__all__ = [
    "Agency", "AuditChainHead", "AuditEvent", "Booking", "Client", "ClientAccount", "Communication", "Consent",
    "DeadlineRule", "DisclosureGrant", "ExportPackage", "IntegrationToken", "JobRecord", "MarketingOptOut",
    "PrivacyRequest", "RequestEvent", "RetentionRule", "StaffUser",
    # issue 15 (compliance)
    "BreachAffectedClient", "BreachIncident", "BreachStep", "ComplianceSetting", "ConsentIntakeEvent",
    "DisclosureLog", "NoticeVersion", "RetentionRun",
]
