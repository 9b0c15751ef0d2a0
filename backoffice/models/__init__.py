"""All models, one module per concept; importing this registers every table on db.metadata."""
from .audit import AuditChainHead, AuditEvent
from .clients import Agency, Client, ClientAccount
from .consent import Consent
from .deadlines import DeadlineRule
from .disclosures import DisclosureGrant
from .jobs import ExportPackage, JobRecord
from .integrations import IntegrationToken
from .optouts import MarketingOptOut
from .records import Booking, Communication
from .requests import PrivacyRequest, RequestEvent
from .retention import RetentionRule
from .staff import StaffUser
from .systems import DataSystem, SystemTask

__all__ = [
    "Agency", "AuditChainHead", "AuditEvent", "Booking", "Client", "ClientAccount", "Communication", "Consent",
    "DeadlineRule", "DisclosureGrant", "ExportPackage", "IntegrationToken", "JobRecord", "MarketingOptOut",
    "PrivacyRequest", "RequestEvent", "RetentionRule", "StaffUser", "DataSystem", "SystemTask",
]
