"""All models, one module per concept; importing this registers every table on db.metadata."""
from .audit import AuditChainHead, AuditEvent
from .clients import Agency, Client, ClientAccount
from .consent import Consent
from .deadlines import DeadlineRule
from .disclosures import DisclosureGrant
from .jobs import ExportPackage, JobRecord
from .integrations import IntegrationToken
from .mail import DownloadLink, InboundMail, Letter, LetterTemplate, MailAttachment
from .optouts import MarketingOptOut
from .records import Booking, Communication
from .requests import PrivacyRequest, RequestEvent
from .retention import RetentionRule
from .staff import StaffUser

__all__ = [
    "Agency", "AuditChainHead", "AuditEvent", "Booking", "Client", "ClientAccount", "Communication", "Consent",
    "DeadlineRule", "DisclosureGrant", "DownloadLink", "ExportPackage", "InboundMail", "IntegrationToken", "JobRecord", "Letter",
    "LetterTemplate", "MailAttachment", "MarketingOptOut",
    "PrivacyRequest", "RequestEvent", "RetentionRule", "StaffUser",
]
