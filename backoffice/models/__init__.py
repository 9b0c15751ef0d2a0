"""All models, one module per concept; importing this registers every table on db.metadata."""
from .audit import AuditChainHead, AuditEvent
from .clients import Agency, Client, ClientAccount
from .consent import Consent
from .integrations import IntegrationToken
from .optouts import MarketingOptOut
from .records import Booking, Communication
from .requests import PrivacyRequest, RequestEvent
from .staff import StaffUser

__all__ = [
    "Agency", "AuditChainHead", "AuditEvent", "Booking", "Client", "ClientAccount", "Communication", "Consent", "IntegrationToken", "MarketingOptOut",
    "PrivacyRequest", "RequestEvent", "StaffUser",
]
