"""The typed SQLAlchemy models of the store; importing this package registers every table."""

from .automation import FLOW_RUN_STATUSES, RULE_OPERATORS, AssignmentRule, Cadence, FlowRun, StagePlaybook
from .base import Base, utcnow
from .capture import OWNER_KINDS, SUBMISSION_OUTCOMES, WebForm, WebFormAssignee, WebSubmission
from .filters import SavedFilter
from .history import AUDIT_ACTIONS, AuditEntry, Document, DocumentLink
from .inventory import PRODUCT_TYPES, PriceBook, PriceBookPrice, Product, ProductTax, Tax
from .mail import OUTBOX_STATUSES, OutboxMessage
from .people import ASSIGNMENT_STRATEGIES, DIGEST_TIME, LANGUAGES, ROLES, Team, TeamMember, User
from .pipeline import SalesProcess, SalesStage, StageHistory
from .privacy import Erasure
from .reference import Batch, CompanySetting, Currency, PicklistValue, RecordCounter
from .sales import OPEN_LEAD_EXCLUDED_STATUSES, Account, Campaign, CampaignMember, Contact, Lead, Opportunity
from .sales_documents import (
    DISCOUNT_KINDS,
    DOCUMENT_KINDS,
    TAX_MODES,
    Invoice,
    LineItem,
    Payment,
    Quote,
    SalesOrder,
)
from .search import SearchDocument, SearchGram, SearchGramStat, SearchPhoneGram
from .work import ACTIVITY_TYPES, Activity, Note

__all__ = [
    "PRODUCT_TYPES",
    "PriceBook",
    "PriceBookPrice",
    "Product",
    "ProductTax",
    "Tax",
    "DISCOUNT_KINDS",
    "DOCUMENT_KINDS",
    "TAX_MODES",
    "Invoice",
    "LineItem",
    "Payment",
    "Quote",
    "SalesOrder",
    "FLOW_RUN_STATUSES",
    "RULE_OPERATORS",
    "AssignmentRule",
    "Cadence",
    "FlowRun",
    "OWNER_KINDS",
    "SUBMISSION_OUTCOMES",
    "WebForm",
    "WebFormAssignee",
    "WebSubmission",
    "AUDIT_ACTIONS",
    "AuditEntry",
    "Document",
    "DocumentLink",
    "Erasure",
    "ACTIVITY_TYPES",
    "ASSIGNMENT_STRATEGIES",
    "LANGUAGES",
    "OPEN_LEAD_EXCLUDED_STATUSES",
    "OUTBOX_STATUSES",
    "ROLES",
    "DIGEST_TIME",
    "Account",
    "Activity",
    "Base",
    "Batch",
    "Campaign",
    "CampaignMember",
    "CompanySetting",
    "Contact",
    "Currency",
    "Lead",
    "Note",
    "Opportunity",
    "OutboxMessage",
    "PicklistValue",
    "RecordCounter",
    "SalesProcess",
    "SalesStage",
    "StagePlaybook",
    "SavedFilter",
    "SearchDocument",
    "SearchGram",
    "SearchGramStat",
    "SearchPhoneGram",
    "StageHistory",
    "Team",
    "TeamMember",
    "User",
    "utcnow",
]
